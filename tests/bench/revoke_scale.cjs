// SPDX-License-Identifier: BSD-3-Clause
// revoke_scale.cjs: iam-simulate's decision for each case of bench_revoke_scale.py.
//
// Usage: node revoke_scale.cjs CASES.json   (NODE_PATH must reach @cloud-copilot/iam-simulate)
// CASES.json: { "account": ID, "role": NAME, "permissions": {...}, "docs": [policy, ...],
//               "cases": [{"doc": i, "sid": S, "person": P, "issued": ISO,
//                          "want": "ExplicitlyDenied" | "Allowed"}, ...] }
// Each case is a call made with a credential of the role that carries the stsrole:sid tag S,
// SourceIdentity P and aws:TokenIssueTime ISO, under the role's permissions and docs[i] (the
// deny policy as the gateway wrote it).  Prints "not ok" per case that differs, then a summary;
// exits 0 when every case matches.
'use strict'

const fs = require('node:fs')
const { runSimulation } = require('@cloud-copilot/iam-simulate')

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const ACCOUNT = input.account

async function decide(c) {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${input.role}/${c.person}@bench.${c.sid}`,
        action: 'iam:GetRole',
        resource: { resource: `arn:aws:iam::${ACCOUNT}:role/${input.role}`, accountId: ACCOUNT },
        contextVariables: {
          'aws:userid': `AROAFAKE0000000000001:${c.person}@bench.${c.sid}`,
          'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/${input.role}`,
          'aws:PrincipalAccount': ACCOUNT,
          'aws:PrincipalTag/stsrole:sid': c.sid,
          'aws:SourceIdentity': c.person,
          'aws:TokenIssueTime': c.issued
        }
      },
      identityPolicies: [
        { name: 'permissions', policy: input.permissions },
        { name: 'deny', policy: input.docs[c.doc] }
      ],
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

async function main() {
  let bad = 0
  for (const c of input.cases) {
    const got = await decide(c)
    if (got !== c.want) {
      bad++
      console.log(`not ok - doc ${c.doc}, ${c.person} sid ${c.sid} issued ${c.issued}: ` +
        `${got}, want ${c.want}`)
    }
  }
  console.log(`iam-simulate: ${input.cases.length - bad} of ${input.cases.length} cases as expected`)
  process.exit(bad ? 1 : 0)
}

main().catch((e) => {
  console.log('not ok - iam-simulate: ' + e.message)
  process.exit(1)
})
