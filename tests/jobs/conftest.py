"""Fixtures for the job tests."""
import shutil
import subprocess

import pytest

from tests.conftest import REDIS_URL, free_port


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of our own that the test can stop and start again on the same port."""
    binary = shutil.which("redis-server")
    if not binary or not REDIS_URL:
        pytest.skip("needs redis-server and REDIS_URL")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process = None

        def start(self):
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            for line in self.process.stdout:  # redis-server says when it is ready: no guessing with sleeps
                if "Ready to accept connections" in line:
                    return
            raise RuntimeError("redis-server exited before it was ready")

        def stop(self):
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process.stdout.close()

    server = Server()
    server.start()
    yield server
    if server.process.returncode is None:
        server.stop()
