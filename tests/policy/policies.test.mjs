// SPDX-License-Identifier: BSD-3-Clause
// policies.test.mjs: proves with iam-simulate that the policies in examples/aws/ do what
// examples/aws/README.md says, and that the StackSet template carries exactly those policies.
//
// Run with `node --test` from tests/policy (tests/policy/run.sh does it). Every policy is read
// from examples/aws/ itself; nothing here is a copy.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { runSimulation } from '@cloud-copilot/iam-simulate'

const EXAMPLES = fileURLToPath(new URL('../../examples/aws/', import.meta.url))
const load = (rel) => JSON.parse(readFileSync(EXAMPLES + rel, 'utf8'))

// The placeholders of examples/aws/README.md.
const SECURITY = '111111111111'
const WORKLOAD = '222222222222'
const OTHER = '333333333333'
const ORG = 'o-exampleorgid'
const BASTION_ROLE = `arn:aws:iam::${SECURITY}:role/stsrole-bastion`
const BASTION_SESSION = `arn:aws:sts::${SECURITY}:assumed-role/stsrole-bastion/i-0123456789abcdef0`
const BOUNDARY_ARN = `arn:aws:iam::${WORKLOAD}:policy/stsrole/stsrole-boundary`
const roleArn = (name) => `arn:aws:iam::${WORKLOAD}:role/stsrole/${name}`

const POLICY_FILE = {
  SecurityAuditRole: 'iam/security-audit-role-policy.json',
  IncidentResponseRole: 'iam/incident-response-role-policy.json',
  BreakGlassRole: 'iam/break-glass-role-policy.json',
  StsRoleRevoker: 'iam/revoker-policy.json'
}
const TARGET_ROLES = ['SecurityAuditRole', 'IncidentResponseRole', 'BreakGlassRole']

const ADMIN_LIKE = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'AddedLater', Effect: 'Allow', Action: '*', Resource: '*' }]
}

// The SCPs as an organization would attach them: FullAWSAccess at the root, and at the workload
// OU FullAWSAccess plus the four deny SCPs (SCPs need an Allow at every level).
const FULL_AWS_ACCESS = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }]
}
const SCP_FILES = [
  'scp/deny-root-user.json',
  'scp/deny-iam-users-and-keys.json',
  'scp/deny-regions.json',
  'scp/protect-stsrole.json'
]
function scps({ without } = {}) {
  return [
    { orgIdentifier: 'r-root', policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }] },
    {
      orgIdentifier: 'ou-root-workloads',
      policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }].concat(
        SCP_FILES.filter((f) => f !== without).map((f) => ({ name: f, policy: load(f) }))
      )
    }
  ]
}

// Runs one simulation and returns 'Allowed', 'ExplicitlyDenied' or 'ImplicitlyDenied'. A
// simulation that iam-simulate rejects (bad policy, bad action, bad context key) fails the test.
async function decide({
  principal,
  action,
  resource = '*',
  resourceAccount = WORKLOAD,
  context = {},
  identity = [],
  boundary,
  resourcePolicy,
  orgPolicies = []
}) {
  const result = await runSimulation(
    {
      request: {
        principal,
        action,
        resource: { resource, accountId: resourceAccount },
        contextVariables: context
      },
      identityPolicies: identity.map((policy, i) => ({ name: `identity-${i}`, policy })),
      serviceControlPolicies: orgPolicies,
      resourceControlPolicies: [],
      resourcePolicy,
      permissionBoundaryPolicies: boundary ? [{ name: 'stsrole-boundary', policy: boundary }] : undefined
    },
    {}
  )
  if (result.resultType === 'error') {
    assert.fail(`iam-simulate rejected the simulation: ${JSON.stringify(result.errors)}`)
  }
  return result.overallResult
}

const isAllowed = (r) => assert.equal(r, 'Allowed')
const isDenied = (r) => assert.notEqual(r, 'Allowed', 'expected a denial')
const isExplicitlyDenied = (r) => assert.equal(r, 'ExplicitlyDenied')

// A call made with a session of one of the workload roles: its permission policy (plus any
// extra identity policy) under the stsrole boundary, with the request context AWS would give it.
function asRole(name, { action, resource = '*', context = {}, extra = [], orgPolicies } = {}) {
  return decide({
    principal: `arn:aws:sts::${WORKLOAD}:assumed-role/${name}/alice@bastion-1.0123abcd`,
    action,
    resource,
    context: {
      'aws:PrincipalArn': roleArn(name),
      'aws:PrincipalAccount': WORKLOAD,
      'aws:RequestedRegion': 'eu-west-1',
      ...context
    },
    identity: [load(POLICY_FILE[name]), ...extra],
    boundary: load('iam/permissions-boundary.json'),
    orgPolicies
  })
}

// The request context of the bastion's AssumeRole, as pam_stsrole sends it.
const BASTION_CONTEXT = {
  'aws:PrincipalArn': BASTION_ROLE,
  'aws:PrincipalAccount': SECURITY,
  'aws:ResourceOrgID': ORG,
  'sts:SourceIdentity': 'alice',
  'sts:RoleSessionName': 'alice@bastion-1.0123abcd',
  'aws:RequestTag/stsrole:mfa': 'totp',
  'aws:RequestTag/stsrole:bastion': 'bastion-1',
  'aws:RequestTag/stsrole:session': '0123abcd',
  'aws:RequestTag/stsrole:sid': 'aerukz4jvpg6',
  'aws:TagKeys': ['stsrole:bastion', 'stsrole:mfa', 'stsrole:session', 'stsrole:sid'],
  'sts:TransitiveTagKeys': ['stsrole:sid']
}
function without(ctx, ...keys) {
  const copy = { ...ctx }
  for (const k of keys) delete copy[k]
  return copy
}

// AssumeRole evaluated the way AWS does for a cross-account call: the caller's identity
// policies in its account, and the role's trust policy as the resource policy.
function assume({
  principal = BASTION_SESSION,
  action = 'sts:AssumeRole',
  role = 'SecurityAuditRole',
  context = BASTION_CONTEXT,
  identity = [load('iam/bastion-broker-policy.json')],
  trust = 'iam/workload-trust-policy.json'
} = {}) {
  return decide({
    principal,
    action,
    resource: roleArn(role),
    context,
    identity,
    resourcePolicy: load(trust)
  })
}

describe('trust policy of the workload roles', () => {
  for (const role of TARGET_ROLES) {
    test(`the bastion role with SourceIdentity and the mfa tag may AssumeRole ${role}`, async () => {
      isAllowed(await assume({ role }))
    })
  }
  test('the bastion may set the SourceIdentity and tag the session', async () => {
    isAllowed(await assume({ action: 'sts:SetSourceIdentity' }))
    isAllowed(await assume({ action: 'sts:TagSession' }))
  })
  test('the bastion role without SourceIdentity is denied', async () => {
    isDenied(await assume({ context: without(BASTION_CONTEXT, 'sts:SourceIdentity') }))
  })
  test('the bastion role without the stsrole:mfa tag is denied', async () => {
    const context = without(BASTION_CONTEXT, 'aws:RequestTag/stsrole:mfa')
    context['aws:TagKeys'] = ['stsrole:bastion', 'stsrole:session', 'stsrole:sid']
    isDenied(await assume({ context }))
  })
  // The revocation key: every credential the bastion mints carries stsrole:sid, transitive, so
  // one Deny entry ends the SSH session's every credential, and a chained session keeps it.
  test('without the stsrole:sid tag, AssumeRole and TagSession are denied', async () => {
    const context = without(BASTION_CONTEXT, 'aws:RequestTag/stsrole:sid')
    context['aws:TagKeys'] = ['stsrole:bastion', 'stsrole:mfa', 'stsrole:session']
    context['sts:TransitiveTagKeys'] = []
    isDenied(await assume({ context }))
    isDenied(await assume({ action: 'sts:TagSession', context }))
  })
  test('a stsrole:sid that is not 12 characters is denied', async () => {
    for (const sid of ['short', 'aerukz4jvpg6x', '']) {
      isDenied(await assume({ context: { ...BASTION_CONTEXT, 'aws:RequestTag/stsrole:sid': sid } }))
    }
  })
  test('stsrole:sid must be transitive', async () => {
    const context = without(BASTION_CONTEXT, 'sts:TransitiveTagKeys')
    isDenied(await assume({ context }))
    isDenied(await assume({ action: 'sts:TagSession', context }))
    isDenied(await assume({ context: { ...BASTION_CONTEXT, 'sts:TransitiveTagKeys': [] } }))
  })
  test('no other tag may be transitive, stsrole:* or not', async () => {
    for (const keys of [
      ['stsrole:sid', 'stsrole:mfa'],
      ['stsrole:sid', 'stsrole:session'],
      ['stsrole:sid', 'team']
    ]) {
      const context = { ...BASTION_CONTEXT, 'sts:TransitiveTagKeys': keys }
      if (keys.includes('team')) {
        context['aws:RequestTag/team'] = 'ops'
        context['aws:TagKeys'] = [...BASTION_CONTEXT['aws:TagKeys'], 'team']
      }
      isDenied(await assume({ context }), keys.join(','))
      isDenied(await assume({ action: 'sts:TagSession', context }), keys.join(','))
    }
  })
  test('the bastion role with stsrole:mfa other than totp is denied', async () => {
    isDenied(await assume({ context: { ...BASTION_CONTEXT, 'aws:RequestTag/stsrole:mfa': 'none' } }))
  })
  test('the bastion role adding a tag outside stsrole:* is denied', async () => {
    const context = {
      ...BASTION_CONTEXT,
      'aws:RequestTag/team': 'ops',
      'aws:TagKeys': [...BASTION_CONTEXT['aws:TagKeys'], 'team']
    }
    isDenied(await assume({ action: 'sts:TagSession', context }))
  })
  test('the same role name in another account is denied', async () => {
    const context = {
      ...BASTION_CONTEXT,
      'aws:PrincipalArn': `arn:aws:iam::${OTHER}:role/stsrole-bastion`,
      'aws:PrincipalAccount': OTHER
    }
    const principal = `arn:aws:sts::${OTHER}:assumed-role/stsrole-bastion/i-0123456789abcdef0`
    isDenied(await assume({ principal, context }))
  })
  test('an IAM user of the security account, even an administrator, is denied', async () => {
    const user = `arn:aws:iam::${SECURITY}:user/alice`
    const context = { ...BASTION_CONTEXT, 'aws:PrincipalArn': user }
    isDenied(await assume({ principal: user, context, identity: [ADMIN_LIKE] }))
  })
  test('another role of the security account, even an administrator, is denied', async () => {
    const principal = `arn:aws:sts::${SECURITY}:assumed-role/ops-admin/bob`
    const context = { ...BASTION_CONTEXT, 'aws:PrincipalArn': `arn:aws:iam::${SECURITY}:role/ops-admin` }
    isDenied(await assume({ principal, context, identity: [ADMIN_LIKE] }))
  })
  test('the bastion role cannot reach a stsrole-named role outside the organization', async () => {
    isDenied(await assume({ context: { ...BASTION_CONTEXT, 'aws:ResourceOrgID': 'o-someoneelse' } }))
  })
  test('no trust policy has a wildcard principal', () => {
    for (const f of readdirSync(EXAMPLES + 'iam').filter((n) => n.includes('trust'))) {
      for (const st of load('iam/' + f).Statement) {
        assert.deepEqual(Object.keys(st.Principal), ['AWS'], f)
        assert.equal(st.Principal.AWS, BASTION_ROLE, f)
      }
    }
  })
})

// Break-glass: the bastion mints BreakGlassRole only for an approved request, and says so in
// two session tags; the trust policy refuses the call without them.
function withBreakGlassTags(doc) {
  const copy = structuredClone(doc)
  for (const st of copy.Statement) {
    if (st.Action !== 'sts:AssumeRole' && st.Action !== 'sts:TagSession') continue
    for (const key of ['aws:RequestTag/stsrole:reason', 'aws:RequestTag/stsrole:approvers']) {
      st.Condition.Null[key] = 'false'
      st.Condition.StringLike[key] = '?*'
    }
  }
  copy.Statement[0].Sid = 'AssumeOnlyWithAReasonAndApprovalsForAPersonWhoPassedMfaAtTheBastion'
  return copy
}
const BREAK_GLASS_CONTEXT = {
  ...BASTION_CONTEXT,
  'aws:RequestTag/stsrole:reason': 'INC-4711 primary db down',
  'aws:RequestTag/stsrole:approvers': 'bob',
  'aws:TagKeys': [...BASTION_CONTEXT['aws:TagKeys'], 'stsrole:reason', 'stsrole:approvers']
}

describe('BreakGlassRole trust policy', () => {
  const trust = 'iam/break-glass-trust-policy.json'
  const bg = (over = {}) => assume({ role: 'BreakGlassRole', trust, context: BREAK_GLASS_CONTEXT, ...over })
  test('is the workload trust policy plus the reason and approvers tags', () => {
    assert.deepStrictEqual(load(trust), withBreakGlassTags(load('iam/workload-trust-policy.json')))
  })
  test('with a reason and approvers, AssumeRole and TagSession are allowed', async () => {
    isAllowed(await bg())
    isAllowed(await bg({ action: 'sts:TagSession' }))
  })
  for (const tag of ['stsrole:reason', 'stsrole:approvers']) {
    test(`without ${tag}, AssumeRole and TagSession are denied`, async () => {
      const context = without(BREAK_GLASS_CONTEXT, `aws:RequestTag/${tag}`)
      context['aws:TagKeys'] = BREAK_GLASS_CONTEXT['aws:TagKeys'].filter((k) => k !== tag)
      isDenied(await bg({ context }))
      isDenied(await bg({ action: 'sts:TagSession', context }))
    })
    test(`an empty ${tag} is denied`, async () => {
      const context = { ...BREAK_GLASS_CONTEXT, [`aws:RequestTag/${tag}`]: '' }
      isDenied(await bg({ context }))
    })
  }
  test('the ordinary login tags alone (no request) are denied', async () => {
    isDenied(await bg({ context: BASTION_CONTEXT }))
  })
  test('the reason and approvers do not stand in for MFA or SourceIdentity', async () => {
    isDenied(await bg({ context: without(BREAK_GLASS_CONTEXT, 'sts:SourceIdentity') }))
    isDenied(await bg({ context: { ...BREAK_GLASS_CONTEXT, 'aws:RequestTag/stsrole:mfa': 'none' } }))
  })
})

describe('ExternalId variant of the trust policy', () => {
  const trust = 'iam/workload-trust-policy-externalid.json'
  const externalId = load(trust).Statement[0].Condition.StringEquals['sts:ExternalId']
  test('the bastion role with the right ExternalId is allowed', async () => {
    isAllowed(await assume({ trust, context: { ...BASTION_CONTEXT, 'sts:ExternalId': externalId } }))
  })
  test('without ExternalId, or with a wrong one, it is denied', async () => {
    isDenied(await assume({ trust }))
    isDenied(await assume({ trust, context: { ...BASTION_CONTEXT, 'sts:ExternalId': 'guess' } }))
  })
  test('with ExternalId but without SourceIdentity it is denied', async () => {
    const context = { ...without(BASTION_CONTEXT, 'sts:SourceIdentity'), 'sts:ExternalId': externalId }
    isDenied(await assume({ trust, context }))
  })
})

describe('SecurityAuditRole', () => {
  test('ec2:DescribeInstances is allowed', async () => {
    isAllowed(await asRole('SecurityAuditRole', { action: 'ec2:DescribeInstances' }))
  })
  test('cloudwatch, iam reads and cloudtrail:LookupEvents are allowed', async () => {
    isAllowed(await asRole('SecurityAuditRole', { action: 'cloudwatch:DescribeAlarms' }))
    isAllowed(await asRole('SecurityAuditRole', { action: 'cloudwatch:GetMetricData' }))
    isAllowed(
      await asRole('SecurityAuditRole', {
        action: 'iam:GetRole',
        resource: `arn:aws:iam::${WORKLOAD}:role/app`
      })
    )
    isAllowed(await asRole('SecurityAuditRole', { action: 'cloudtrail:LookupEvents' }))
  })
  test('iam:CreateUser is denied', async () => {
    isExplicitlyDenied(
      await asRole('SecurityAuditRole', {
        action: 'iam:CreateUser',
        resource: `arn:aws:iam::${WORKLOAD}:user/mallory`
      })
    )
  })
  test('s3:GetObject is denied', async () => {
    isExplicitlyDenied(
      await asRole('SecurityAuditRole', {
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::workload-data/payroll.csv'
      })
    )
  })
  test('secrets, parameters and kms:Decrypt are denied', async () => {
    const r = (action, resource) => asRole('SecurityAuditRole', { action, resource })
    isExplicitlyDenied(
      await r(
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:eu-west-1:${WORKLOAD}:secret:db-AbCdEf`
      )
    )
    isExplicitlyDenied(await r('ssm:GetParameter', `arn:aws:ssm:eu-west-1:${WORKLOAD}:parameter/db/password`))
    isExplicitlyDenied(await r('ssm:GetParametersByPath', `arn:aws:ssm:eu-west-1:${WORKLOAD}:parameter/db`))
    isExplicitlyDenied(
      await r('kms:Decrypt', `arn:aws:kms:eu-west-1:${WORKLOAD}:key/11111111-2222-3333-4444-555555555555`)
    )
  })
  test('creating resources is denied', async () => {
    isDenied(
      await asRole('SecurityAuditRole', {
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:eu-west-1:${WORKLOAD}:instance/*`
      })
    )
  })
})

describe('IncidentResponseRole', () => {
  const instance = `arn:aws:ec2:eu-west-1:${WORKLOAD}:instance/i-0badbadbadbadbad0`
  test('ec2:ModifyInstanceAttribute is allowed', async () => {
    isAllowed(
      await asRole('IncidentResponseRole', { action: 'ec2:ModifyInstanceAttribute', resource: instance })
    )
  })
  test('security groups, snapshot, tag and stop are allowed', async () => {
    const sg = `arn:aws:ec2:eu-west-1:${WORKLOAD}:security-group/sg-0quarantine`
    isAllowed(await asRole('IncidentResponseRole', { action: 'ec2:CreateSecurityGroup', resource: sg }))
    isAllowed(await asRole('IncidentResponseRole', { action: 'ec2:RevokeSecurityGroupEgress', resource: sg }))
    isAllowed(
      await asRole('IncidentResponseRole', {
        action: 'ec2:CreateSnapshot',
        resource: `arn:aws:ec2:eu-west-1::snapshot/*`
      })
    )
    isAllowed(await asRole('IncidentResponseRole', { action: 'ec2:CreateTags', resource: instance }))
    isAllowed(await asRole('IncidentResponseRole', { action: 'ec2:StopInstances', resource: instance }))
  })
  test('iam:AttachRolePolicy is denied', async () => {
    isExplicitlyDenied(
      await asRole('IncidentResponseRole', {
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${WORKLOAD}:role/app`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' }
      })
    )
  })
  test('terminating the evidence and reading data are denied', async () => {
    isExplicitlyDenied(
      await asRole('IncidentResponseRole', { action: 'ec2:TerminateInstances', resource: instance })
    )
    isExplicitlyDenied(
      await asRole('IncidentResponseRole', {
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::workload-data/payroll.csv'
      })
    )
  })
})

describe('BreakGlassRole', () => {
  test('is an administrator: ec2:RunInstances is allowed', async () => {
    isAllowed(
      await asRole('BreakGlassRole', {
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:eu-west-1:${WORKLOAD}:instance/*`
      })
    )
  })
  test('but the boundary keeps the stsrole roles, users and the trail out of its reach', async () => {
    isExplicitlyDenied(
      await asRole('BreakGlassRole', {
        action: 'iam:UpdateAssumeRolePolicy',
        resource: roleArn('SecurityAuditRole')
      })
    )
    isExplicitlyDenied(
      await asRole('BreakGlassRole', {
        action: 'iam:PutRolePolicy',
        resource: roleArn('BreakGlassRole'),
        context: { 'iam:PermissionsBoundary': BOUNDARY_ARN }
      })
    )
    isExplicitlyDenied(
      await asRole('BreakGlassRole', { action: 'iam:CreatePolicyVersion', resource: BOUNDARY_ARN })
    )
    isExplicitlyDenied(
      await asRole('BreakGlassRole', {
        action: 'iam:CreateUser',
        resource: `arn:aws:iam::${WORKLOAD}:user/mallory`
      })
    )
    isExplicitlyDenied(
      await asRole('BreakGlassRole', {
        action: 'cloudtrail:StopLogging',
        resource: `arn:aws:cloudtrail:eu-west-1:${WORKLOAD}:trail/org-trail`
      })
    )
    isExplicitlyDenied(
      await asRole('BreakGlassRole', {
        action: 'events:DisableRule',
        resource: `arn:aws:events:us-east-1:${WORKLOAD}:rule/stsrole-breakglass-activity`
      })
    )
  })
  test('a role it creates must carry the stsrole boundary', async () => {
    const resource = `arn:aws:iam::${WORKLOAD}:role/escape`
    isExplicitlyDenied(await asRole('BreakGlassRole', { action: 'iam:CreateRole', resource }))
    isAllowed(
      await asRole('BreakGlassRole', {
        action: 'iam:CreateRole',
        resource,
        context: { 'iam:PermissionsBoundary': BOUNDARY_ARN }
      })
    )
  })
})

describe('StsRoleRevoker', () => {
  // IAM has no condition key for an inline policy's name (PutRolePolicy offers only
  // iam:PermissionsBoundary and iam:RoleTemplateARN), so the revoker is scoped by role ARN and by
  // the boundary the role carries; the name stsrole-revoked-<bastion_id> is the gateway's to keep.
  const put = (resource, context = { 'iam:PermissionsBoundary': BOUNDARY_ARN }) =>
    asRole('StsRoleRevoker', { action: 'iam:PutRolePolicy', resource, context })
  for (const role of TARGET_ROLES) {
    test(`iam:PutRolePolicy (stsrole-revoked-bastion-1) on ${role} is allowed`, async () => {
      isAllowed(await put(roleArn(role)))
      isAllowed(
        await asRole('StsRoleRevoker', {
          action: 'iam:DeleteRolePolicy',
          resource: roleArn(role),
          context: { 'iam:PermissionsBoundary': BOUNDARY_ARN }
        })
      )
      isAllowed(await asRole('StsRoleRevoker', { action: 'iam:GetRolePolicy', resource: roleArn(role) }))
    })
  }
  test('iam:PutRolePolicy on any other role is denied', async () => {
    isDenied(await put(`arn:aws:iam::${WORKLOAD}:role/app`))
    isDenied(await put(`arn:aws:iam::${WORKLOAD}:role/OrganizationAccountAccessRole`, {}))
    isDenied(await put(roleArn('StsRoleRevoker')))
    isDenied(await put(`arn:aws:iam::${OTHER}:role/stsrole/SecurityAuditRole`))
  })
  test('iam:PutRolePolicy on a target role that lost its boundary is denied', async () => {
    isDenied(await put(roleArn('SecurityAuditRole'), {}))
  })
  test('nothing else: AttachRolePolicy, UpdateAssumeRolePolicy, DescribeInstances are denied', async () => {
    isDenied(
      await asRole('StsRoleRevoker', {
        action: 'iam:AttachRolePolicy',
        resource: roleArn('SecurityAuditRole'),
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' }
      })
    )
    isDenied(
      await asRole('StsRoleRevoker', {
        action: 'iam:UpdateAssumeRolePolicy',
        resource: roleArn('SecurityAuditRole')
      })
    )
    isDenied(await asRole('StsRoleRevoker', { action: 'ec2:DescribeInstances' }))
  })
  test('only the bastion role may assume the revoker', async () => {
    const trust = 'iam/revoker-trust-policy.json'
    const context = {
      'aws:PrincipalArn': BASTION_ROLE,
      'aws:PrincipalAccount': SECURITY,
      'aws:ResourceOrgID': ORG
    }
    isAllowed(await assume({ role: 'StsRoleRevoker', trust, context }))
    const user = `arn:aws:iam::${SECURITY}:user/alice`
    isDenied(
      await assume({
        role: 'StsRoleRevoker',
        trust,
        principal: user,
        identity: [ADMIN_LIKE],
        context: { ...context, 'aws:PrincipalArn': user }
      })
    )
  })
})

// The deny policy stsrole-gatewayd writes (stsrole-gatewayd(8), THE BUDGET): a sid list, a legacy
// aws:userid list, one person's cut-off and the role-wide cut-off, as lib/policy.c builds them.
describe('the revocation deny policy on a target role', () => {
  const CUT = '2026-01-01T12:00:00Z'
  const PERSON_CUT = '2026-01-01T13:00:00Z'
  const DENY = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StsroleSid',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:PrincipalTag/stsrole:sid': ['aerukz4jvpg6', 'bbbbbbbbbbbb'] } }
      },
      {
        Sid: 'StsroleRevoked',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:userid': ['AROAEXAMPLE123456789:carol@bastion-1.0123abcd'] } }
      },
      {
        Sid: 'StsrolePerson1',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceIdentity': 'mallory' },
          DateLessThan: { 'aws:TokenIssueTime': PERSON_CUT }
        }
      },
      {
        Sid: 'StsroleRevokedOlder',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': CUT } }
      }
    ]
  }
  // A SecurityAuditRole session with its tags, as STS makes it from the bastion's AssumeRole.
  const call = ({ sid = 'cccccccccccc', person = 'alice', issued = '2026-01-01T14:00:00Z', userid }) =>
    asRole('SecurityAuditRole', {
      action: 'ec2:DescribeInstances',
      extra: [DENY],
      context: {
        'aws:PrincipalTag/stsrole:sid': sid,
        'aws:SourceIdentity': person,
        'aws:TokenIssueTime': issued,
        'aws:userid': userid ?? `AROAEXAMPLE123456789:${person}@bastion-1.0123abcd`
      }
    })
  test('control: a live session is allowed', async () => {
    isAllowed(await call({}))
  })
  test('a revoked sid is denied, whichever credential of the session asks', async () => {
    isExplicitlyDenied(await call({ sid: 'aerukz4jvpg6' }))
    isExplicitlyDenied(await call({ sid: 'bbbbbbbbbbbb', userid: 'AROAEXAMPLE123456789:bob@b2.0fedcba9' }))
  })
  test('a sid differing in one character, or in case, is not denied', async () => {
    isAllowed(await call({ sid: 'aerukz4jvpg7' }))
    isAllowed(await call({ sid: 'AERUKZ4JVPG6' }))
  })
  test('an aws:userid listed before sids existed is still denied', async () => {
    isExplicitlyDenied(await call({ person: 'carol', userid: 'AROAEXAMPLE123456789:carol@bastion-1.0123abcd' }))
  })
  test("a person's cut-off denies only that person's credentials issued before it", async () => {
    isExplicitlyDenied(await call({ person: 'mallory', issued: '2026-01-01T12:59:59Z' }))
    isAllowed(await call({ person: 'mallory', issued: '2026-01-01T13:00:01Z' }))
    isAllowed(await call({ person: 'bob', issued: '2026-01-01T12:59:59Z' }))
    isAllowed(await call({ person: 'mallory2', issued: '2026-01-01T12:30:00Z' }))
  })
  test('the role-wide cut-off denies everyone issued before it, and nobody after', async () => {
    isExplicitlyDenied(await call({ person: 'bob', issued: '2026-01-01T11:59:59Z' }))
    isAllowed(await call({ person: 'bob', issued: '2026-01-01T12:00:01Z' }))
  })
  test('the document is within the inline policy budget', () => {
    assert.ok(JSON.stringify(DENY).length <= 10240)
  })
})

describe('the permissions boundary caps any Allow added later', () => {
  const createUser = { action: 'iam:CreateUser', resource: `arn:aws:iam::${WORKLOAD}:user/mallory` }
  test('control: "*:*" without the boundary would allow iam:CreateUser', async () => {
    isAllowed(
      await decide({
        principal: `arn:aws:sts::${WORKLOAD}:assumed-role/SecurityAuditRole/alice@bastion-1.0123abcd`,
        ...createUser,
        context: { 'aws:PrincipalArn': roleArn('SecurityAuditRole'), 'aws:PrincipalAccount': WORKLOAD },
        identity: [ADMIN_LIKE]
      })
    )
  })
  test('SecurityAuditRole + "*:*" under the boundary: iam:CreateUser still denied', async () => {
    isExplicitlyDenied(await asRole('SecurityAuditRole', { ...createUser, extra: [ADMIN_LIKE] }))
  })
  test('even when the "*:*" is the only policy (its own denies removed)', async () => {
    const r = (action, resource) =>
      decide({
        principal: `arn:aws:sts::${WORKLOAD}:assumed-role/SecurityAuditRole/alice@bastion-1.0123abcd`,
        action,
        resource,
        context: { 'aws:PrincipalArn': roleArn('SecurityAuditRole'), 'aws:PrincipalAccount': WORKLOAD },
        identity: [ADMIN_LIKE],
        boundary: load('iam/permissions-boundary.json')
      })
    isExplicitlyDenied(await r(createUser.action, createUser.resource))
    isExplicitlyDenied(await r('s3:GetObject', 'arn:aws:s3:::workload-data/payroll.csv'))
    isExplicitlyDenied(await r('ec2:RunInstances', `arn:aws:ec2:eu-west-1:${WORKLOAD}:instance/*`))
    isAllowed(await r('ec2:DescribeInstances', '*'))
  })
  test('IncidentResponseRole + "*:*": still no IAM change, no termination', async () => {
    isExplicitlyDenied(await asRole('IncidentResponseRole', { ...createUser, extra: [ADMIN_LIKE] }))
    isExplicitlyDenied(
      await asRole('IncidentResponseRole', {
        action: 'ec2:TerminateInstances',
        resource: `arn:aws:ec2:eu-west-1:${WORKLOAD}:instance/i-0badbadbadbadbad0`,
        extra: [ADMIN_LIKE]
      })
    )
  })
  test('a stolen revoker + "*:*" still cannot touch trust policies or other roles', async () => {
    isExplicitlyDenied(
      await asRole('StsRoleRevoker', {
        action: 'iam:UpdateAssumeRolePolicy',
        resource: roleArn('SecurityAuditRole'),
        extra: [ADMIN_LIKE]
      })
    )
    isExplicitlyDenied(
      await asRole('StsRoleRevoker', { action: 'ec2:DescribeInstances', extra: [ADMIN_LIKE] })
    )
  })
})

// Revocation denies the session on its own role; a credential the session minted itself would
// outlive that. The boundary keeps every session stsrole minted (recognised by its stsrole:mfa
// session tag) from minting one, whatever its role allows (BreakGlassRole allows "*").
describe('a session stsrole minted cannot mint another credential (no escape from revocation)', () => {
  const SESSION_TAGS = {
    'aws:PrincipalTag/stsrole:mfa': 'totp',
    'aws:PrincipalTag/stsrole:bastion': 'bastion-1',
    'aws:PrincipalTag/stsrole:session': '0123abcd'
  }
  const MINT = [
    'sts:AssumeRole',
    'sts:AssumeRoleWithSAML',
    'sts:AssumeRoleWithWebIdentity',
    'sts:GetFederationToken',
    'sts:GetSessionToken'
  ]
  // Somewhere to chain to: a role outside stsrole's path in the same account, and one elsewhere.
  const ELSEWHERE = [`arn:aws:iam::${WORKLOAD}:role/app-deploy`, `arn:aws:iam::${OTHER}:role/admin`]
  const boundaryWithout = () => {
    const b = load('iam/permissions-boundary.json')
    b.Statement = b.Statement.filter((st) => st.Sid !== 'StsroleSessionsMintNoFurtherCredentials')
    return b
  }
  const breakGlass = (boundary, context) =>
    decide({
      principal: `arn:aws:sts::${WORKLOAD}:assumed-role/BreakGlassRole/alice@bastion-1.0123abcd`,
      action: 'sts:AssumeRole',
      resource: ELSEWHERE[0],
      context: { 'aws:PrincipalArn': roleArn('BreakGlassRole'), 'aws:PrincipalAccount': WORKLOAD, ...context },
      identity: [load(POLICY_FILE.BreakGlassRole)],
      boundary
    })

  test('control: without the statement a BreakGlassRole session could chain AssumeRole', async () => {
    isAllowed(await breakGlass(boundaryWithout(), SESSION_TAGS))
  })
  for (const role of [...TARGET_ROLES, 'StsRoleRevoker']) {
    test(`a session of ${role} with the stsrole tags: every STS mint is explicitly denied`, async () => {
      for (const action of MINT) {
        // GetSessionToken names no resource; GetFederationToken names the federated user.
        const resources =
          action === 'sts:GetSessionToken'
            ? ['*']
            : action === 'sts:GetFederationToken'
              ? [`arn:aws:sts::${WORKLOAD}:federated-user/alice`]
              : ELSEWHERE
        for (const resource of resources) {
          isExplicitlyDenied(
            await asRole(role, { action, resource, context: SESSION_TAGS, extra: [ADMIN_LIKE] })
          )
        }
      }
    })
  }
  test('also when the session says stsrole:mfa=none (an operator\'s stsrolectl assume)', async () => {
    isExplicitlyDenied(
      await breakGlass(load('iam/permissions-boundary.json'), {
        ...SESSION_TAGS,
        'aws:PrincipalTag/stsrole:mfa': 'none'
      })
    )
  })
  test('after revocation the chained AssumeRole is denied all the same', async () => {
    // The gateway's Deny on the role (aws:userid of the session) and the boundary both apply.
    const revoked = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'StsroleRevoked',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { StringLike: { 'aws:userid': ['AROAEXAMPLEBREAKGLASS:alice@bastion-1.0123abcd'] } }
        }
      ]
    }
    const r = await decide({
      principal: `arn:aws:sts::${WORKLOAD}:assumed-role/BreakGlassRole/alice@bastion-1.0123abcd`,
      action: 'sts:AssumeRole',
      resource: ELSEWHERE[0],
      context: {
        'aws:PrincipalArn': roleArn('BreakGlassRole'),
        'aws:PrincipalAccount': WORKLOAD,
        'aws:userid': 'AROAEXAMPLEBREAKGLASS:alice@bastion-1.0123abcd',
        ...SESSION_TAGS
      },
      identity: [load(POLICY_FILE.BreakGlassRole), revoked],
      boundary: load('iam/permissions-boundary.json')
    })
    isExplicitlyDenied(r)
  })
  test("the bastion's own AssumeRole (no stsrole tags) is not caught by the statement", async () => {
    // Even were the boundary put on the bastion role, its AssumeRole into a workload role stays
    // allowed: its session carries no stsrole:mfa tag of its own.
    isAllowed(
      await decide({
        principal: BASTION_SESSION,
        action: 'sts:AssumeRole',
        resource: roleArn('SecurityAuditRole'),
        context: BASTION_CONTEXT,
        identity: [load('iam/bastion-broker-policy.json')],
        boundary: load('iam/permissions-boundary.json'),
        resourcePolicy: load('iam/workload-trust-policy.json')
      })
    )
    isAllowed(await assume())
  })
  test('a workload role session without stsrole tags (not minted by stsrole) is not caught', async () => {
    isAllowed(await breakGlass(load('iam/permissions-boundary.json'), {}))
  })
})

// The bastion role's DynamoDB writes in the security account (iam/bastion-fleet-policy.json):
// only the items stsrole writes, only their attributes, and no claim is ever erased.
describe('fleet policy: the bastion writes only the DynamoDB items it needs', () => {
  const table = (name) => `arn:aws:dynamodb:us-east-1:${SECURITY}:table/${name}`
  const REPLAY = table('stsrole-replay')
  const SESSIONS = table('stsrole-sessions')
  // The attributes lib/replay.c and lib/registry.c put in their items (tests/fleet checks the
  // items it wrote against the policy's lists).
  const CLAIM = ['pk', 'sk', 'kind', 'step_time', 'step', 'step_size', 'bastion_id', 'accepted', 'nonce', 'ttl']
  const SESSION = ['pk', 'sk', 'kind', 'v', 'session_id', 'bastion_id', 'user', 'role_name', 'role_arn',
    'revoker_arn', 'assumed_role_id', 'session_name', 'access_key_id', 'rhost', 'expiration', 'opened', 'ttl',
    'sid', 'refresh', 'nonce']
  const asBastion = (action, resource, context = {}, extra = []) =>
    decide({
      principal: BASTION_SESSION,
      action,
      resource,
      resourceAccount: SECURITY,
      context: { 'aws:PrincipalArn': BASTION_ROLE, 'aws:PrincipalAccount': SECURITY, ...context },
      identity: [load('iam/bastion-fleet-policy.json'), ...extra]
    })
  const keys = (pk, attrs) => ({ 'dynamodb:LeadingKeys': [pk], 'dynamodb:Attributes': attrs })
  const DYNAMO_ADMIN = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' }]
  }

  test('the replay claim of lib/replay.c: PutItem and its read-back GetItem are allowed', async () => {
    isAllowed(await asBastion('dynamodb:PutItem', REPLAY, keys('user#alice', CLAIM)))
    isAllowed(await asBastion('dynamodb:GetItem', REPLAY, { 'dynamodb:LeadingKeys': ['user#alice'] }))
  })
  test('a claim item under another key, or with an attribute stsrole does not write, is denied', async () => {
    isDenied(await asBastion('dynamodb:PutItem', REPLAY, keys('bastion#i-0123', CLAIM)))
    isDenied(await asBastion('dynamodb:PutItem', REPLAY, keys('user#alice', [...CLAIM, 'note'])))
  })
  test('a claim is never deleted or updated, even with dynamodb:* added to the role', async () => {
    for (const action of ['dynamodb:DeleteItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem',
      'dynamodb:PartiQLUpdate', 'dynamodb:DeleteTable', 'dynamodb:UpdateTimeToLive']) {
      isExplicitlyDenied(await asBastion(action, REPLAY, { 'dynamodb:LeadingKeys': ['user#alice'] }, [DYNAMO_ADMIN]))
    }
  })
  test('the session registry of lib/registry.c: put, refresh, get, delete, query and scan are allowed', async () => {
    isAllowed(await asBastion('dynamodb:PutItem', SESSIONS, keys('user#alice', SESSION)))
    // A refresh moves the item's expiration (lib/registry.c: SET expiration, ttl).
    isAllowed(await asBastion('dynamodb:UpdateItem', SESSIONS, keys('user#alice', ['expiration', 'ttl'])))
    for (const action of ['dynamodb:GetItem', 'dynamodb:DeleteItem', 'dynamodb:Query']) {
      isAllowed(await asBastion(action, SESSIONS, { 'dynamodb:LeadingKeys': ['user#alice'] }))
    }
    isAllowed(await asBastion('dynamodb:Scan', SESSIONS))
  })
  test('registry: other keys or attributes, and other tables are denied', async () => {
    isDenied(await asBastion('dynamodb:UpdateItem', SESSIONS, keys('user#alice', ['expiration', 'shell'])))
    isDenied(await asBastion('dynamodb:PutItem', SESSIONS, keys('admin#x', SESSION)))
    isDenied(await asBastion('dynamodb:PutItem', SESSIONS, keys('user#alice', [...SESSION, 'shell'])))
    isDenied(await asBastion('dynamodb:DeleteItem', SESSIONS, { 'dynamodb:LeadingKeys': ['bastion#x'] }))
    isDenied(await asBastion('dynamodb:PutItem', table('other'), keys('user#alice', CLAIM)))
  })
})

describe('service control policies of the workload OU', () => {
  // An administrator role of the workload account with no boundary, so that only the SCPs
  // stand between it and the request.
  const ADMIN_ROLE = `arn:aws:iam::${WORKLOAD}:role/ops-admin`
  const admin = ({ action, resource = '*', context = {}, principalArn = ADMIN_ROLE, orgPolicies = scps() }) =>
    decide({
      principal: principalArn.includes(':root')
        ? principalArn
        : principalArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/') + '/someone',
      action,
      resource,
      context: {
        'aws:PrincipalArn': principalArn,
        'aws:PrincipalAccount': WORKLOAD,
        'aws:RequestedRegion': 'eu-west-1',
        ...context
      },
      identity: [ADMIN_LIKE],
      orgPolicies
    })
  const ROOT = `arn:aws:iam::${WORKLOAD}:root`

  test('control: an administrator in an allowed region is allowed', async () => {
    isAllowed(await admin({ action: 'ec2:DescribeInstances' }))
  })
  test('the root user is denied', async () => {
    isExplicitlyDenied(await admin({ action: 'ec2:DescribeInstances', principalArn: ROOT }))
    isAllowed(
      await admin({
        action: 'ec2:DescribeInstances',
        principalArn: ROOT,
        orgPolicies: scps({ without: 'scp/deny-root-user.json' })
      })
    )
  })
  test('iam:CreateAccessKey and iam:CreateUser are denied', async () => {
    const user = `arn:aws:iam::${WORKLOAD}:user/deploy-bot`
    isExplicitlyDenied(await admin({ action: 'iam:CreateAccessKey', resource: user }))
    isExplicitlyDenied(await admin({ action: 'iam:CreateUser', resource: user }))
    isAllowed(
      await admin({
        action: 'iam:CreateAccessKey',
        resource: user,
        orgPolicies: scps({ without: 'scp/deny-iam-users-and-keys.json' })
      })
    )
  })
  test('a region that is not allowed is denied, global services are not', async () => {
    const region = { 'aws:RequestedRegion': 'ap-southeast-2' }
    isExplicitlyDenied(await admin({ action: 'ec2:DescribeInstances', context: region }))
    isAllowed(await admin({ action: 'iam:ListRoles', context: region }))
    isAllowed(
      await admin({
        action: 'sts:AssumeRole',
        resource: `arn:aws:iam::${WORKLOAD}:role/app`,
        context: region
      })
    )
  })
  test('the stsrole roles and boundary change only through the deployment role', async () => {
    const trust = { action: 'iam:UpdateAssumeRolePolicy', resource: roleArn('SecurityAuditRole') }
    isExplicitlyDenied(await admin(trust))
    isExplicitlyDenied(
      await admin({ action: 'iam:DeleteRolePermissionsBoundary', resource: roleArn('BreakGlassRole') })
    )
    isExplicitlyDenied(await admin({ action: 'iam:CreatePolicyVersion', resource: BOUNDARY_ARN }))
    isExplicitlyDenied(
      await admin({
        action: 'events:DeleteRule',
        resource: `arn:aws:events:us-east-1:${WORKLOAD}:rule/stsrole-trust-policy-changed`
      })
    )
    isAllowed(
      await admin({ ...trust, principalArn: `arn:aws:iam::${WORKLOAD}:role/stacksets-exec-0123456789abcdef` })
    )
    isAllowed(
      await admin({ action: 'iam:UpdateAssumeRolePolicy', resource: `arn:aws:iam::${WORKLOAD}:role/app` })
    )
  })
  test('inline policies on the stsrole roles: the revoker yes, an administrator no', async () => {
    isExplicitlyDenied(
      await admin({
        action: 'iam:PutRolePolicy',
        resource: roleArn('SecurityAuditRole'),
        context: { 'iam:PermissionsBoundary': BOUNDARY_ARN }
      })
    )
    isAllowed(
      await asRole('StsRoleRevoker', {
        action: 'iam:PutRolePolicy',
        resource: roleArn('SecurityAuditRole'),
        context: { 'iam:PermissionsBoundary': BOUNDARY_ARN },
        orgPolicies: scps()
      })
    )
  })
  test('SecurityAuditRole still works under every SCP', async () => {
    isAllowed(await asRole('SecurityAuditRole', { action: 'ec2:DescribeInstances', orgPolicies: scps() }))
  })
})

describe('policy sizes stay within the IAM and Organizations quotas', () => {
  // Quotas count characters without whitespace: managed policies 6,144; trust policies 2,048
  // (the default, raisable to 4,096); SCPs 5,120.
  const size = (rel) => JSON.stringify(load(rel)).length
  test('managed policies', () => {
    for (const f of Object.values(POLICY_FILE).concat('iam/permissions-boundary.json')) {
      assert.ok(size(f) <= 6144, `${f}: ${size(f)}`)
    }
  })
  test('trust policies', () => {
    for (const f of readdirSync(EXAMPLES + 'iam').filter((n) => n.includes('trust'))) {
      assert.ok(size('iam/' + f) <= 2048, `${f}: ${size('iam/' + f)}`)
    }
  })
  test('SCPs', () => {
    for (const f of SCP_FILES) assert.ok(size(f) <= 5120, `${f}: ${size(f)}`)
  })
})

// ---------------------------------------------------------------------------------------------
// The StackSet template must carry exactly the JSON policies proven above.

const TEMPLATE = EXAMPLES + 'cloudformation/workload-roles.yaml'

// CloudFormation YAML to JSON with the short-form tags turned into their long form. PyYAML is a
// dependency of cfn-lint, so it is present wherever the template can be linted.
const YAML_TO_JSON = `
import json, sys, yaml
class L(yaml.SafeLoader):
    pass
def tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": v}
    if suffix == "GetAtt" and isinstance(v, str):
        v = v.split(".", 1)
    if suffix == "Condition":
        return {"Condition": v}
    return {"Fn::" + suffix: v}
L.add_multi_constructor("!", tag)
print(json.dumps(yaml.load(open(sys.argv[1]), Loader=L)))
`

function loadTemplate() {
  try {
    return JSON.parse(execFileSync('python3', ['-c', YAML_TO_JSON, TEMPLATE], { encoding: 'utf8' }))
  } catch {
    return { skip: 'python3 with PyYAML not available to read the template' }
  }
}

// Resolves the intrinsic functions the template uses, for one set of parameter values.
function resolver(template, params) {
  const values = {
    'AWS::Partition': 'aws',
    'AWS::AccountId': WORKLOAD,
    'AWS::Region': 'us-east-1',
    'AWS::NoValue': undefined
  }
  for (const [k, p] of Object.entries(template.Parameters)) values[k] = params[k] ?? p.Default
  const resources = template.Resources
  const condition = (name) => resolve(template.Conditions[name])
  const ref = (name) => {
    if (name in values) return values[name]
    const r = resources[name]
    assert.ok(r, `Ref to unknown ${name}`)
    if (r.Type === 'AWS::IAM::ManagedPolicy') {
      const p = resolve(r.Properties)
      return `arn:aws:iam::${WORKLOAD}:policy${p.Path}${p.ManagedPolicyName}`
    }
    if (r.Type === 'AWS::IAM::Role') return resolve(r.Properties.RoleName)
    return `<${name}>`
  }
  const getAtt = (name, attr) => {
    const r = resources[name]
    assert.equal(attr, 'Arn')
    const p = resolve(r.Properties)
    assert.equal(r.Type, 'AWS::IAM::Role', `GetAtt ${name}.${attr}`)
    return `arn:aws:iam::${WORKLOAD}:role${p.Path}${p.RoleName}`
  }
  function resolve(v) {
    if (Array.isArray(v)) return v.map(resolve).filter((x) => x !== undefined)
    if (v === null || typeof v !== 'object') return v
    const keys = Object.keys(v)
    if (keys.length === 1) {
      const [k] = keys
      const a = v[k]
      switch (k) {
        case 'Ref':
          return ref(a)
        case 'Condition':
          return condition(a)
        case 'Fn::GetAtt':
          return getAtt(a[0], a[1])
        case 'Fn::If':
          return resolve(condition(a[0]) ? a[1] : a[2])
        case 'Fn::Equals':
          return resolve(a[0]) === resolve(a[1])
        case 'Fn::Not':
          return !resolve(a[0])
        case 'Fn::And':
          return a.every(resolve)
        case 'Fn::Or':
          return a.some(resolve)
        case 'Fn::Join':
          return resolve(a[1]).join(a[0])
        case 'Fn::Sub': {
          const [s, vars] = typeof a === 'string' ? [a, {}] : a
          return s.replace(/\$\{([^}]+)\}/g, (_, n) => {
            if (vars[n] !== undefined) return resolve(vars[n])
            if (n.includes('.')) return getAtt(...n.split('.'))
            return ref(n)
          })
        }
        default:
          if (k.startsWith('Fn::')) assert.fail(`resolver does not know ${k}`)
      }
    }
    const out = {}
    for (const [k, x] of Object.entries(v)) {
      const r = resolve(x)
      if (r !== undefined) out[k] = r
    }
    return out
  }
  return { resolve, condition }
}

describe('StackSet template workload-roles.yaml', () => {
  const template = loadTemplate()
  const skip = template.skip ? `skipped: ${template.skip}` : false

  const PLACEHOLDERS = { SecurityAccountId: SECURITY, BastionRoleName: 'stsrole-bastion' }
  const byType = (type) => Object.entries(template.Resources ?? {}).filter(([, r]) => r.Type === type)

  test('has the parameters SecurityAccountId and BastionRoleName', { skip }, () => {
    assert.ok(template.Parameters.SecurityAccountId)
    assert.ok(template.Parameters.BastionRoleName)
    assert.equal(template.Parameters.SecurityAccountId.Default, undefined, 'no default account id')
  })

  test('each managed policy is the JSON file of the same role', { skip }, () => {
    const { resolve } = resolver(template, PLACEHOLDERS)
    const expected = {
      'stsrole-boundary': 'iam/permissions-boundary.json',
      'stsrole-SecurityAuditRole': POLICY_FILE.SecurityAuditRole,
      'stsrole-IncidentResponseRole': POLICY_FILE.IncidentResponseRole,
      'stsrole-BreakGlassRole': POLICY_FILE.BreakGlassRole,
      'stsrole-StsRoleRevoker': POLICY_FILE.StsRoleRevoker
    }
    const seen = []
    for (const [id, r] of byType('AWS::IAM::ManagedPolicy')) {
      const p = resolve(r.Properties)
      assert.ok(expected[p.ManagedPolicyName], `${id}: unexpected policy ${p.ManagedPolicyName}`)
      assert.equal(p.Path, '/stsrole/')
      assert.deepStrictEqual(p.PolicyDocument, load(expected[p.ManagedPolicyName]), id)
      seen.push(p.ManagedPolicyName)
    }
    assert.deepStrictEqual(seen.sort(), Object.keys(expected).sort())
  })

  test(
    'the four roles: trust, boundary, one managed policy, no inline policy, 1 h sessions',
    { skip },
    () => {
      for (const [externalId, trustFile] of [
        [undefined, 'iam/workload-trust-policy.json'],
        [
          load('iam/workload-trust-policy-externalid.json').Statement[0].Condition.StringEquals[
            'sts:ExternalId'
          ],
          'iam/workload-trust-policy-externalid.json'
        ]
      ]) {
        const { resolve } = resolver(template, { ...PLACEHOLDERS, ExternalId: externalId })
        const roles = Object.fromEntries(
          byType('AWS::IAM::Role').map(([, r]) => {
            const p = resolve(r.Properties)
            return [p.RoleName, p]
          })
        )
        assert.deepStrictEqual(Object.keys(roles).sort(), [...TARGET_ROLES, 'StsRoleRevoker'].sort())
        for (const [name, p] of Object.entries(roles)) {
          const trust = name === 'StsRoleRevoker' ? 'iam/revoker-trust-policy.json' : trustFile
          const want = name === 'BreakGlassRole' ? withBreakGlassTags(load(trust)) : load(trust)
          assert.deepStrictEqual(p.AssumeRolePolicyDocument, want, `${name} trust`)
          assert.equal(p.Path, '/stsrole/')
          assert.equal(p.PermissionsBoundary, BOUNDARY_ARN, `${name} boundary`)
          assert.deepStrictEqual(p.ManagedPolicyArns, [
            `arn:aws:iam::${WORKLOAD}:policy/stsrole/stsrole-${name}`
          ])
          assert.equal(p.Policies, undefined, `${name} must not have inline policies`)
          assert.equal(p.MaxSessionDuration, 3600, `${name} MaxSessionDuration`)
        }
      }
    }
  )

  // CloudTrail marks AssumeRole read-only; EventBridge delivers read-only management events only
  // to rules in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (EventBridge User Guide).
  test('rules matching AssumeRole see read-only management events', { skip }, () => {
    let n = 0
    for (const [id, r] of byType('AWS::Events::Rule')) {
      const pat = r.Properties.EventPattern
      const names = pat.detail?.eventName ?? []
      if (pat.source?.includes('aws.sts') && names.includes('AssumeRole')) {
        assert.equal(r.Properties.State, 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', id)
        n++
      }
    }
    assert.equal(n, 3, 'three AssumeRole rules')
  })

  test('monitoring: a rule and an alarm for each high-signal event', { skip }, () => {
    const rules = Object.fromEntries(
      byType('AWS::Events::Rule').map(([id, r]) => [r.Properties.Name, { id, ...r }])
    )
    for (const name of [
      'stsrole-assumerole-failed',
      'stsrole-assumerole-unexpected-identity',
      'stsrole-trust-policy-changed',
      'stsrole-role-policy-changed',
      'stsrole-breakglass-assumed',
      'stsrole-breakglass-activity'
    ]) {
      assert.ok(rules[name], `rule ${name}`)
      const alarm = byType('AWS::CloudWatch::Alarm').find(
        ([, a]) => a.Properties.Dimensions[0].Value.Ref === rules[name].id
      )
      assert.ok(alarm, `alarm for ${name}`)
      assert.equal(alarm[1].Properties.AlarmName, name)
    }
    // AssumeRole is a read-only management event: a rule in state ENABLED never sees it.
    const bg = rules['stsrole-breakglass-assumed'].Properties
    assert.equal(bg.State, 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS')
    assert.deepStrictEqual(bg.EventPattern.detail.eventName, ['AssumeRole'])
    assert.deepStrictEqual(bg.EventPattern.detail.requestParameters.roleArn, [
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stsrole/BreakGlassRole' }
    ])
    const json = JSON.stringify(template.Resources)
    for (const event of ['UpdateAssumeRolePolicy', 'AttachRolePolicy', 'PutRolePolicy', 'AssumeRole']) {
      assert.ok(json.includes(`"${event}"`), event)
    }
  })
})
