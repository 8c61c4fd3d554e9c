"""Started by Terraform as hashicorp/http when the stand-ins are installed; prints go-plugin's handshake."""

from examples.standins._offline import serve_standin
from examples.standins.http._provider import ADDRESS, HttpProvider

if __name__ == "__main__":
    serve_standin(HttpProvider, ADDRESS)
