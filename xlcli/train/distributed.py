"""Distributed data parallel under torchrun: who this process is, joining and leaving the group.

``torchrun --nproc-per-node N -m xlcli train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; each
process then joins the process group (NCCL on CUDA, gloo on CPU), the loop wraps the model in
DistributedDataParallel (:meth:`Distributed.wrap`) and uses the few collectives here, and rank 0
alone writes the store and the checkpoints. A plain run is rank 0 of 1, and every collective is
then a no-op, so the loop reads the same either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        """torchrun's RANK / WORLD_SIZE / LOCAL_RANK (a plain run is rank 0 of 1)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))

    def wrap(self, model, device: str):
        """``model`` in DistributedDataParallel when there are several processes, else itself."""
        if self.world == 1:
            return model
        import torch
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [torch.device(device).index] if device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean of each value over the processes (float64 sums, in a fixed order of names)."""
        if self.world == 1:
            return values
        import torch
        import torch.distributed as dist

        names = sorted(values)
        tensor = torch.tensor([values[n] for n in names], dtype=torch.float64)
        dist.all_reduce(tensor)
        return {n: float(v) / self.world for n, v in zip(names, tensor)}

    def gather(self, obj) -> list:
        """Every process's ``obj``, by rank."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        found: list = [None] * self.world
        dist.all_gather_object(found, obj)
        return found

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def init_distributed(device: str) -> Distributed:
    """Join torchrun's process group when there is one (NCCL on CUDA, gloo on CPU)."""
    import torch.distributed as dist

    env = Distributed.from_env()
    if env.world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        env = Distributed.from_env()
    return env


def finish_distributed(env: Distributed) -> None:
    """Every rank waits for rank 0's bookkeeping, then leaves the process group."""
    if env.world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def training_device(requested: str, env: Distributed) -> str:
    """The device of this process: with several CUDA processes, the GPU of its local rank."""
    from xlcli.encoders import pick_device

    device = pick_device(requested)
    if device == "mps":  # bf16 autocast and DDP are CUDA/CPU matters; MPS trains in float32
        return device
    if device == "cuda" and env.world > 1:
        return f"cuda:{env.local_rank}"
    return device
