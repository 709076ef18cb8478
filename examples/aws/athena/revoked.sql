-- The calls that sessions made after the audit log revoked them, to see whether AWS
-- refused them and how soon.  {revoked} is one ('session name', 'second of the deny')
-- pair per revoked session, from the audit log.
SELECT t.eventtime, t.eventsource, t.eventname, t.errorcode, t.useridentity.arn,
       t.useridentity.sessioncontext.sessionissuer.arn,
       t.useridentity.sessioncontext.sourceidentity, t.recipientaccountid, t.eventid
FROM {table} t
JOIN (VALUES {revoked}) AS r (session_name, denied)
  ON regexp_extract(t.useridentity.arn, '[^/]+$') = r.session_name AND t.eventtime >= r.denied
WHERE t."timestamp" BETWEEN '{from_day}' AND '{to_day}'
  AND t.eventtime BETWEEN '{from}' AND '{to}'
  AND t.useridentity.type = 'AssumedRole'
