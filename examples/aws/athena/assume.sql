-- AssumeRole calls into the roles stsrole manages, in the window.
-- stsrolectl reconcile --athena fills {table}, {from}, {to}, {from_day}, {to_day} and {roles}.
SELECT eventtime, eventid, recipientaccountid, sourceipaddress, errorcode, useridentity.arn,
       json_extract_scalar(requestparameters, '$.roleArn'),
       json_extract_scalar(requestparameters, '$.roleSessionName'),
       json_extract_scalar(requestparameters, '$.sourceIdentity')
FROM {table}
WHERE "timestamp" BETWEEN '{from_day}' AND '{to_day}'
  AND eventtime BETWEEN '{from}' AND '{to}'
  AND eventsource = 'sts.amazonaws.com' AND eventname = 'AssumeRole'
  AND regexp_extract(json_extract_scalar(requestparameters, '$.roleArn'), '[^/]+$') IN ({roles})
