// simulate.cjs: proves with iam-simulate (which evaluates conditions, unlike moto) that the deny
// policies stsrole-gatewayd wrote deny exactly what they should.
//
// Usage: node simulate.cjs FACTS.json   (NODE_PATH must reach @cloud-copilot/iam-simulate)
// FACTS.json, written by test_gateway.py from what the gateway really put in IAM:
//   { "account": "222222222222",
//     "list":  { "role": NAME, "policy": {...}, "permissions": {...},
//                "revoked": [userid, ...], "live": userid },
//     "older": { "role": NAME, "policy": {...}, "permissions": {...}, "cutoff": ISO } }
// Prints one line per check and exits 0 when all hold.
'use strict'

const fs = require('node:fs')
const { runSimulation } = require('@cloud-copilot/iam-simulate')

const facts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const ACCOUNT = facts.account
let failed = 0

async function decide(role, userid, issued, identity) {
  const session = userid.split(':')[1]
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
        action: 'iam:GetRole',
        resource: { resource: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT },
        contextVariables: {
          'aws:userid': userid,
          'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/${role}`,
          'aws:PrincipalAccount': ACCOUNT,
          'aws:TokenIssueTime': issued
        }
      },
      identityPolicies: identity.map((policy, i) => ({ name: `p${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: []
    },
    {}
  )
  if (result.resultType === 'error') {
    throw new Error('iam-simulate rejected the simulation: ' + JSON.stringify(result.errors))
  }
  return result.overallResult
}

function expect(name, got, want) {
  const ok = want === 'Allowed' ? got === 'Allowed' : got === want
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}: ${got}`)
  if (!ok) failed++
}

function later(iso, seconds) {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

async function main() {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  const l = facts.list
  const withDeny = [l.permissions, l.policy]
  expect('the role allows iam:GetRole without the deny policy',
    await decide(l.role, l.live, now, [l.permissions]), 'Allowed')
  for (const id of l.revoked) {
    expect(`revoked ${id} is explicitly denied`, await decide(l.role, id, now, withDeny),
      'ExplicitlyDenied')
  }
  expect(`live ${l.live} of the same role is still allowed`,
    await decide(l.role, l.live, now, withDeny), 'Allowed')
  const near = l.revoked[0].replace(/.$/, (c) => (c === 'x' ? 'y' : 'x'))
  expect(`a near-miss userid ${near} is not denied (exact match only)`,
    await decide(l.role, near, now, withDeny), 'Allowed')

  const o = facts.older
  const withCut = [o.permissions, o.policy]
  expect(`a token issued before the cut-off ${o.cutoff} is explicitly denied`,
    await decide(o.role, 'AROAOLDER0000000000001:old@b1.1', later(o.cutoff, -60), withCut),
    'ExplicitlyDenied')
  expect('a token issued after the cut-off is allowed',
    await decide(o.role, 'AROAOLDER0000000000001:new@b1.2', later(o.cutoff, 60), withCut),
    'Allowed')
  console.log(failed ? `iam-simulate: ${failed} failed` : 'iam-simulate: all checks hold')
  process.exit(failed ? 1 : 0)
}

main().catch((e) => {
  console.log('not ok - iam-simulate: ' + e.message)
  process.exit(1)
})
