import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # the CI machine has 2 cores; one thread keeps tests predictable and deterministic
    torch.set_num_threads(1)
    yield
