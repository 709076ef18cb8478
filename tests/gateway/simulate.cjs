// SPDX-License-Identifier: BSD-3-Clause
// simulate.cjs: proves with iam-simulate (which evaluates conditions, unlike moto) that the deny
// policies stsrole-gatewayd wrote deny exactly what they should.
//
// Usage: node simulate.cjs FACTS.json   (NODE_PATH must reach @cloud-copilot/iam-simulate)
// FACTS.json, written by test_gateway.py from what the gateway really put in IAM:
//   { "account": "222222222222",
//     "list":   { "role": NAME, "policy": {...}, "permissions": {...},
//                 "revoked": [{userid, sid, person}, ...], "live": {userid, sid, person} },
//     "older":  { "role": NAME, "policy": {...}, "permissions": {...}, "cutoff": ISO },
//     "person": { "role": NAME, "policy": {...}, "permissions": {...}, "person": P,
//                 "other": Q, "cutoff": ISO },                                  (optional)
//     "burst":  { "role": NAME, "policy": {...}, "permissions": {...}, "skew": S,
//                 "revoked": [{sid, person, opened}, ...] } }                    (optional)
// A session is the request context AWS gives each of its calls: aws:userid, the stsrole:sid
// tag (aws:PrincipalTag/stsrole:sid), aws:SourceIdentity and aws:TokenIssueTime.
// Prints one line per check and exits 0 when all hold.
'use strict'

const fs = require('node:fs')
const { runSimulation } = require('@cloud-copilot/iam-simulate')

const facts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const ACCOUNT = facts.account
let failed = 0

async function decide(role, who, issued, identity) {
  const userid = who.userid ?? `AROAFAKE0000000000001:${who.person ?? 'someone'}@b1.0`
  const context = {
    'aws:userid': userid,
    'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/${role}`,
    'aws:PrincipalAccount': ACCOUNT,
    'aws:TokenIssueTime': issued
  }
  if (who.sid) context['aws:PrincipalTag/stsrole:sid'] = who.sid
  if (who.person) context['aws:SourceIdentity'] = who.person
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${userid.split(':')[1]}`,
        action: 'iam:GetRole',
        resource: { resource: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT },
        contextVariables: context
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

const iso = (epoch) => new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
const later = (when, seconds) => iso(Date.parse(when) / 1000 + seconds)

async function main() {
  const now = iso(Math.floor(Date.now() / 1000))
  const l = facts.list
  const withDeny = [l.permissions, l.policy]
  expect('the role allows iam:GetRole without the deny policy',
    await decide(l.role, l.live, now, [l.permissions]), 'Allowed')
  for (const r of l.revoked) {
    expect(`revoked session sid ${r.sid} is explicitly denied`,
      await decide(l.role, r, now, withDeny), 'ExplicitlyDenied')
    // A credential refreshed later carries the same sid under another session name.
    const refreshed = { ...r, userid: r.userid.replace(/:.*/, ':refreshed@b9.ffff') }
    expect('and so is a later credential of the same session',
      await decide(l.role, refreshed, later(now, 3600), withDeny), 'ExplicitlyDenied')
  }
  expect(`live session (sid ${l.live.sid}) of the same role is still allowed`,
    await decide(l.role, l.live, now, withDeny), 'Allowed')
  const near = l.revoked[0].sid.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))
  expect(`a near-miss sid ${near} is not denied (exact match only)`,
    await decide(l.role, { ...l.live, sid: near }, now, withDeny), 'Allowed')

  const o = facts.older
  const withCut = [o.permissions, o.policy]
  expect(`a token issued before the cut-off ${o.cutoff} is explicitly denied`,
    await decide(o.role, { userid: 'AROAOLDER0000000000001:old@b1.1' }, later(o.cutoff, -60),
      withCut), 'ExplicitlyDenied')
  expect('a token issued after the cut-off is allowed',
    await decide(o.role, { userid: 'AROAOLDER0000000000001:new@b1.2' }, later(o.cutoff, 60),
      withCut), 'Allowed')

  const p = facts.person
  if (p) {
    const withP = [p.permissions, p.policy]
    expect(`${p.person}'s credential issued before their cut-off ${p.cutoff} is denied`,
      await decide(p.role, { person: p.person }, later(p.cutoff, -1), withP), 'ExplicitlyDenied')
    expect(`${p.person}'s credential issued after it is allowed`,
      await decide(p.role, { person: p.person, sid: 'zzzzzzzzzzzz' }, later(p.cutoff, 1), withP),
      'Allowed')
    expect(`${p.other}'s credential issued before it is allowed (no one else is hit)`,
      await decide(p.role, { person: p.other, sid: 'yyyyyyyyyyyy' }, later(p.cutoff, -3600),
        withP), 'Allowed')
  }

  const b = facts.burst
  if (b) {
    const withB = [b.permissions, b.policy]
    let bad = 0
    // Each revoked session, whatever AWS's clock said within the skew of the bastion's.
    for (const r of b.revoked) {
      for (const shift of [-b.skew, 0, b.skew]) {
        const got = await decide(b.role, r, iso(r.opened + shift), withB)
        if (got !== 'ExplicitlyDenied') {
          console.log(`not ok - burst session ${r.sid} issued ${iso(r.opened + shift)}: ${got}`)
          bad++
        }
      }
    }
    expect(`all ${b.revoked.length} sessions of the burst are denied (issue time within the skew)`,
      bad === 0 ? 'ExplicitlyDenied' : `${bad} not denied`, 'ExplicitlyDenied')
    const older = b.policy.Statement.find((s) => s.Sid === 'StsroleRevokedOlder')
    const cut = older.Condition.DateLessThan['aws:TokenIssueTime']
    expect(`a session issued after the cut-off ${cut} is allowed`,
      await decide(b.role, { sid: 'xxxxxxxxxxxx', person: 'late' }, later(cut, 1), withB),
      'Allowed')
  }
  console.log(failed ? `iam-simulate: ${failed} failed` : 'iam-simulate: all checks hold')
  process.exit(failed ? 1 : 0)
}

main().catch((e) => {
  console.log('not ok - iam-simulate: ' + e.message)
  process.exit(1)
})
