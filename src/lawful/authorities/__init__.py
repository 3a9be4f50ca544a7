"""The register of disclosures to government agencies and regulators, and the bundles handed over."""
