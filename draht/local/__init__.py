"""`draht dev`: the app's routes on this machine, with a local store and local IAM checks."""
