-- Every call of the sessions the audit log says were revoked ({sessions}), to place
-- them before or after the deny and see whether AWS refused them.
SELECT eventtime, eventsource, eventname, errorcode, useridentity.arn,
       useridentity.sessioncontext.sessionissuer.arn,
       useridentity.sessioncontext.sourceidentity, recipientaccountid, eventid
FROM {table}
WHERE "timestamp" BETWEEN '{from_day}' AND '{to_day}'
  AND eventtime BETWEEN '{from}' AND '{to}'
  AND useridentity.type = 'AssumedRole'
  AND regexp_extract(useridentity.arn, '[^/]+$') IN ({sessions})
