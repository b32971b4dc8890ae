"""The Draht stack: `pulumi preview`, `pulumi up -s dev`."""

from draht.app import app
from draht.stack import main

main(app)
