"""Parallel trials: keras-tuner's gRPC chief (the run) and workers (other processes), loopback only.

    export KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8470
    KERASTUNER_TUNER_ID=chief tflite-edge run recipe.yaml --out runs/x
    KERASTUNER_TUNER_ID=tuner0 python -m tflite_edge.search worker runs/x

The oracle's server has no authentication, hence loopback only.
"""
from __future__ import annotations

import ipaddress
import os
import threading
import time
from typing import Optional

from ..compat import keras
from ..errors import UserInputError

keras()  # TF_USE_LEGACY_KERAS must be set before keras_tuner imports tensorflow
from keras_tuner import protos  # noqa: E402
from keras_tuner.distribute.oracle_chief import OracleServicer  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402


def distributed_role() -> Optional[str]:
    """None (one process), "chief" or "worker", from keras-tuner's KERASTUNER_* variables."""
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    if ip is None:
        return None
    port, tuner_id = os.environ.get("KERASTUNER_ORACLE_PORT"), os.environ.get("KERASTUNER_TUNER_ID")
    if not port or not tuner_id:
        raise UserInputError("KERASTUNER_ORACLE_IP is set but KERASTUNER_ORACLE_PORT or KERASTUNER_TUNER_ID "
                             "is not; set all three (e.g. 127.0.0.1, 8470, chief / tuner0) or none")
    try:
        loopback = ip == "localhost" or ipaddress.ip_address(ip).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UserInputError(f"KERASTUNER_ORACLE_IP={ip}: the oracle's gRPC server has no authentication, so "
                             "only loopback is allowed; use 127.0.0.1 and run the workers on this machine")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UserInputError(f"KERASTUNER_ORACLE_PORT={port}: not a port number; use e.g. 8470")
    return "chief" if "chief" in tuner_id else "worker"


# ---------------------------------------------------------------- chief: keras-tuner's servicer
class ChiefServicer(OracleServicer):
    """keras-tuner's OracleServicer, plus a record of which workers were told the search is over."""

    def __init__(self, oracle):
        super().__init__(oracle)
        self.lock, self.seen, self.stopped = threading.Lock(), set(), set()

    def CreateTrial(self, request, context):
        trial = self.oracle.create_trial(request.tuner_id)
        with self.lock:
            self.seen.add(request.tuner_id)
            if trial.status == TrialStatus.STOPPED:
                self.stopped.add(request.tuner_id)
        return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

    def finished(self) -> bool:
        with self.lock:
            return bool(self.seen) and self.seen <= self.stopped and not self.oracle.ongoing_trials


def serve_oracle(oracle, log, poll_s: float = 0.2) -> set:
    """Serve `oracle` to the workers until each one that connected was told to stop.

    keras-tuner's own start_server polls every 30 s and then waits 40 s more before it returns;
    this loop ends as soon as the last worker is done. Returns the workers' tuner ids.
    """
    from concurrent import futures

    import grpc

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    servicer = ChiefServicer(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # newer grpc raises where older ones returned 0
        bound = 0
    if bound == 0:
        raise UserInputError(f"KERASTUNER_ORACLE_PORT: cannot listen on {address} (in use?); choose another port")
    server.start()
    log(f"  oracle serving on {address}; waiting for workers (python -m tflite_edge.search worker RUN_DIR)")
    try:
        while not servicer.finished():
            time.sleep(poll_s)
        time.sleep(poll_s)  # let the last STOPPED answers reach their workers
    finally:
        server.stop(grace=2).wait()
    return set(servicer.seen)


def wait_for_chief(timeout_s: float) -> None:
    import grpc

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            raise UserInputError(f"no chief oracle at {address} within {timeout_s:.0f} s (not started yet, "
                                 "or its search already finished); start the run with "
                                 "KERASTUNER_TUNER_ID=chief first") from None
