terraform {
  # optional() object attributes and lifecycle preconditions need 1.3.
  required_version = ">= 1.3.0"

  required_providers {
    huaweicloud = {
      source = "huaweicloud/huaweicloud"
      # huaweicloud_fgs_function_trigger first appears in v1.62.1 (the provider's CHANGELOG.md).
      version = ">= 1.62.1, < 2.0.0"
    }
  }
}

# Credentials come from the provider's usual sources (HW_ACCESS_KEY / HW_SECRET_KEY, or a profile):
# nothing secret is written here.
provider "huaweicloud" {
  region = var.region
}
