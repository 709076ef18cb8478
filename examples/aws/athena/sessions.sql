-- One row per role session of a managed role: how many calls, first and last.
SELECT useridentity.sessioncontext.sessionissuer.arn,
       regexp_extract(useridentity.arn, '[^/]+$'),
       useridentity.sessioncontext.sourceidentity, recipientaccountid,
       count(*), min(eventtime), max(eventtime)
FROM {table}
WHERE "timestamp" BETWEEN '{from_day}' AND '{to_day}'
  AND eventtime BETWEEN '{from}' AND '{to}'
  AND useridentity.type = 'AssumedRole'
  AND useridentity.sessioncontext.sessionissuer.username IN ({roles})
GROUP BY 1, 2, 3, 4
