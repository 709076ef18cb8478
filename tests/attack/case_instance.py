# SPDX-License-Identifier: BSD-3-Clause
"""case_instance.py: the instance settings that keep IMDS from everything but the bastion's root.

Reads examples/aws/cloudformation/bastion-fleet.yaml: the bastions' launch template must ask for
IMDSv2 only (a token from a PUT first, which an SSRF GET cannot make) and a hop limit of 1 (the
token's reply dies before it reaches a container or a routed host).  Needs PyYAML.
"""
from attacklib import case
from harness import Skip, check

TEMPLATE = ("examples", "aws", "cloudformation", "bastion-fleet.yaml")


def launch_templates(ctx):
    try:
        import yaml
    except ImportError:
        raise Skip("PyYAML is not installed (apt-get install -y python3-yaml)")

    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short forms (!Ref, !GetAtt, !Sub) as plain values: only their presence
    # matters here.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with open(ctx.path(*TEMPLATE)) as f:
        doc = yaml.load(f, Loader=Loader)
    return [r["Properties"]["LaunchTemplateData"] for r in doc["Resources"].values()
            if r.get("Type") == "AWS::EC2::LaunchTemplate"]


@case("the bastions' launch template: IMDSv2 only (HttpTokens required), hop limit 1, "
      "with the bastion's instance profile")
def imds_settings(ctx):
    lts = launch_templates(ctx)
    check(len(lts) == 1, "%d launch templates in %s" % (len(lts), "/".join(TEMPLATE)))
    md = lts[0].get("MetadataOptions", {})
    check(md.get("HttpTokens") == "required", "HttpTokens is %r" % md.get("HttpTokens"))
    check(md.get("HttpPutResponseHopLimit") == 1,
          "HttpPutResponseHopLimit is %r" % md.get("HttpPutResponseHopLimit"))
    check(md.get("HttpEndpoint") == "enabled", "HttpEndpoint is %r" % md.get("HttpEndpoint"))
    check("IamInstanceProfile" in lts[0], "no IamInstanceProfile")
