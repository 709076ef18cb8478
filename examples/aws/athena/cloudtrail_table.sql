-- The Athena table over a CloudTrail bucket that stsrolectl reconcile --athena queries.
-- The columns follow AWS's table for CloudTrail logs (Athena User Guide, "Create the table
-- for CloudTrail logs in Athena using partition projection"), with
-- userIdentity.sessionContext.sourceIdentity added: the person, which stsrole sets on
-- every session.  Partition projection on the delivery day ("timestamp", yyyy/MM/dd) lets
-- each query read only the days of its window.
--
-- Replace BUCKET, ACCOUNT and REGION (one table per account and region; for an
-- organisation trail, LOCATION is s3://BUCKET/AWSLogs/o-ORGID/ACCOUNT/CloudTrail/REGION),
-- and the projection's start date.
CREATE EXTERNAL TABLE cloudtrail_logs (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        sessioncontext: STRUCT<
            attributes: STRUCT<
                mfaauthenticated: STRING,
                creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING,
                principalid: STRING,
                arn: STRING,
                accountid: STRING,
                username: STRING>,
            ec2roledelivery: STRING,
            sourceidentity: STRING>>,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING
)
PARTITIONED BY (`timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://BUCKET/AWSLogs/ACCOUNT/CloudTrail/REGION'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.timestamp.type' = 'date',
    'projection.timestamp.format' = 'yyyy/MM/dd',
    'projection.timestamp.range' = '2026/01/01,NOW',
    'projection.timestamp.interval' = '1',
    'projection.timestamp.interval.unit' = 'DAYS',
    'storage.location.template' = 's3://BUCKET/AWSLogs/ACCOUNT/CloudTrail/REGION/${timestamp}'
);
