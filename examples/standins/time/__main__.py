"""Started by Terraform as hashicorp/time when the stand-ins are installed; prints go-plugin's handshake."""

from examples.standins._offline import serve_standin
from examples.standins.time._provider import ADDRESS, TimeProvider

if __name__ == "__main__":
    serve_standin(TimeProvider, ADDRESS)
