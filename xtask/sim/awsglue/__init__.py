"""A stand-in for the `awsglue` module that Glue predefines in its sessions, for the simulator's statements.

Only what session bootstrap code imports: `awsglue.utils.getResolvedOptions` and `awsglue.context.GlueContext`.
"""
