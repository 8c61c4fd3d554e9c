"""Started by Terraform as kreuzwerker/docker when the stand-ins are installed (prints the handshake)."""

from examples.standins._offline import serve_standin
from examples.standins.docker._provider import ADDRESS, DockerProvider

if __name__ == "__main__":
    serve_standin(DockerProvider, ADDRESS)
