"""Data-subject rights (GDPR arts. 12-21): requests, the access report, erasure, restriction, objection."""
