"""Build tooling for elb-master-watch: the FunctionGraph packager. Never shipped in the zip."""
