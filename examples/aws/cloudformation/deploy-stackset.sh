#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# deploy-stackset.sh: create or update the stsrole StackSet (service-managed, auto-deployed to OUs).
#
# Run it with credentials of the organization's management account, or of a delegated StackSets
# administrator (then pass --call-as DELEGATED_ADMIN). Trusted access between CloudFormation
# StackSets and AWS Organizations must be on:
#     aws cloudformation activate-organizations-access
# --dry-run prints the aws commands instead of running them (it needs no credentials).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: deploy-stackset.sh --security-account ID --ou OU_ID[,OU_ID...] [options]
  --security-account ID      account of the bastion (111111111111 in the examples)
  --ou OU_ID[,OU_ID...]      workload OUs; accounts that join them later get the stack too
  --bastion-role NAME        bastion instance-profile role, with its path (default stsrole-bastion)
  --regions "R1 R2 ..."      regions of the stack instances (default "us-east-1"); the first one
                             holds the IAM resources and must be us-east-1 for the IAM alarms
  --source-identity-pattern P  StringLike pattern for sts:SourceIdentity (default "*")
  --alarm-email ADDRESS      subscribe this address to the stsrole-alerts topics
  --stack-set-name NAME      default stsrole-workload-roles
  --call-as SELF|DELEGATED_ADMIN   default SELF
  --dry-run                  print the aws commands, run nothing
The optional ExternalId is read from the environment variable STSROLE_EXTERNAL_ID, so that it
does not show in the process list.
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
template="$here/workload-roles.yaml"
security_account=""
ous=""
bastion_role="stsrole-bastion"
regions="us-east-1"
si_pattern="*"
alarm_email=""
name="stsrole-workload-roles"
call_as="SELF"
dry_run=0

while [ $# -gt 0 ]; do
    case "$1" in
    --security-account) security_account=${2:?}; shift 2 ;;
    --ou) ous=${2:?}; shift 2 ;;
    --bastion-role) bastion_role=${2:?}; shift 2 ;;
    --regions) regions=${2:?}; shift 2 ;;
    --source-identity-pattern) si_pattern=${2:?}; shift 2 ;;
    --alarm-email) alarm_email=${2:?}; shift 2 ;;
    --stack-set-name) name=${2:?}; shift 2 ;;
    --call-as) call_as=${2:?}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "deploy-stackset.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

die() { echo "deploy-stackset.sh: $*" >&2; exit 2; }
[[ $security_account =~ ^[0-9]{12}$ ]] || die "--security-account must be a 12-digit account id"
[[ $ous =~ ^(ou-[a-z0-9]+-[a-z0-9]+|r-[a-z0-9]+)(,(ou-[a-z0-9]+-[a-z0-9]+|r-[a-z0-9]+))*$ ]] ||
    die "--ou must be one or more OU ids (ou-xxxx-yyyyyyyy), comma-separated"
# The same patterns as the template's AllowedPattern; they also keep the JSON below well-formed.
[[ $bastion_role =~ ^[A-Za-z0-9+=,.@_/-]{1,512}$ ]] || die "bad --bastion-role"
[[ $si_pattern =~ ^[A-Za-z0-9+=,.@_*-]{1,64}$ ]] || die "bad --source-identity-pattern"
[[ $alarm_email =~ ^[A-Za-z0-9+=,.@_-]*$ ]] || die "bad --alarm-email"
[[ $call_as =~ ^(SELF|DELEGATED_ADMIN)$ ]] || die "--call-as is SELF or DELEGATED_ADMIN"
external_id=${STSROLE_EXTERNAL_ID:-}
[[ $external_id =~ ^$|^[A-Za-z0-9+=,.@:/_-]{2,1224}$ ]] || die "bad STSROLE_EXTERNAL_ID"
read -r -a region_list <<<"$regions"
[ ${#region_list[@]} -gt 0 ] || die "--regions is empty"
for r in "${region_list[@]}"; do
    [[ $r =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "bad region $r"
done
iam_region=${region_list[0]}
[ "$iam_region" = us-east-1 ] ||
    echo "deploy-stackset.sh: note: IAM events reach EventBridge only in us-east-1;" \
        "the IAM alarms need it in --regions" >&2

param() { printf '{"ParameterKey":"%s","ParameterValue":"%s"}' "$1" "$2"; }
params="[$(param SecurityAccountId "$security_account"),$(param BastionRoleName "$bastion_role"),\
$(param SourceIdentityPattern "$si_pattern"),$(param ExternalId "$external_id"),\
$(param IamRegion "$iam_region"),$(param AlarmEmail "$alarm_email")]"
# One region at a time, IAM region first, and stop at the first failure: a broken trust policy
# should not roll out across the organization.
json_list() { # a b c -> "a","b","c"
    local IFS=,
    set -- "${@/#/\"}"
    set -- "${@/%/\"}"
    echo "$*"
}
prefs=$(printf '{"RegionConcurrencyType":"SEQUENTIAL","RegionOrder":[%s],"FailureToleranceCount":0,"MaxConcurrentCount":1}' \
    "$(json_list "${region_list[@]}")")
IFS=, read -r -a ou_list <<<"$ous"
targets=$(printf '{"OrganizationalUnitIds":[%s]}' "$(json_list "${ou_list[@]}")")

run() {
    if [ $dry_run = 1 ]; then
        local a out="aws"
        for a in "$@"; do
            [ "$a" = "$params" ] && [ -n "$external_id" ] && a=${a//"$external_id"/****}
            case $a in
            *[!A-Za-z0-9_./:=@,-]*) out+=" '${a//\'/\'\\\'\'}'" ;;
            *) out+=" $a" ;;
            esac
        done
        echo "$out"
    else
        aws "$@"
    fi
}

exists=0
if [ $dry_run = 0 ] && aws cloudformation describe-stack-set --stack-set-name "$name" \
    --call-as "$call_as" >/dev/null 2>&1; then
    exists=1
fi

if [ $exists = 0 ]; then
    run cloudformation create-stack-set \
        --stack-set-name "$name" \
        --description "stsrole workload roles, boundary and alarms" \
        --template-body "file://$template" \
        --parameters "$params" \
        --capabilities CAPABILITY_NAMED_IAM \
        --permission-model SERVICE_MANAGED \
        --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \
        --managed-execution Active=true \
        --call-as "$call_as"
    run cloudformation create-stack-instances \
        --stack-set-name "$name" \
        --deployment-targets "$targets" \
        --regions "${region_list[@]}" \
        --operation-preferences "$prefs" \
        --call-as "$call_as"
else
    run cloudformation update-stack-set \
        --stack-set-name "$name" \
        --template-body "file://$template" \
        --parameters "$params" \
        --capabilities CAPABILITY_NAMED_IAM \
        --deployment-targets "$targets" \
        --regions "${region_list[@]}" \
        --operation-preferences "$prefs" \
        --call-as "$call_as"
fi
[ $dry_run = 1 ] || echo "deploy-stackset.sh: submitted; follow it with:" \
    "aws cloudformation list-stack-set-operations --stack-set-name $name --call-as $call_as"
