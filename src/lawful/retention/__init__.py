"""Retention: how long the policy keeps each kind of data, and the legal holds that outlast erasure."""
