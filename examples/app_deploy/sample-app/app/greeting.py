"""order-service: the tiny sample application the app_deploy example builds."""

VERSION = "1.0.0"


def greeting(name: str) -> str:
    """Returns the greeting the service answers with."""
    name = name.strip() or "world"
    return f"Hello, {name}! (order-service {VERSION})"


if __name__ == "__main__":
    import sys

    print(greeting(" ".join(sys.argv[1:])))
