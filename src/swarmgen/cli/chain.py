"""``swarmgen chain``: the stake contract on an EVM chain (deploy, register, stake, post).

Every command takes the node (``--chain``), the contract (``--contract``) and, to send,
a private key (``SWARMGEN_CHAIN_PRIVATE_KEY``); amounts are in the chain's smallest
coin unit (wei).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer

from swarmgen.cli.common import DatabaseOption, DataOption, admin_for, given, reports_errors

if TYPE_CHECKING:
    from swarmgen.chain.evm import EvmChain

chain_app = typer.Typer(
    help="Stake, epoch seals and slashes on an EVM chain.", no_args_is_help=True
)
stake_app = typer.Typer(help="A worker's stake on the chain.", no_args_is_help=True)
chain_app.add_typer(stake_app, name="stake")

RpcOption = Annotated[
    str, typer.Option("--chain", envvar="SWARMGEN_CHAIN_RPC_URL", help="EVM JSON-RPC URL.")
]
ContractOption = Annotated[
    str,
    typer.Option("--contract", envvar="SWARMGEN_CHAIN_CONTRACT", help="Contract address."),
]
PrivateKeyOption = Annotated[
    str | None,
    typer.Option(
        "--private-key",
        envvar="SWARMGEN_CHAIN_PRIVATE_KEY",
        help="Hex private key of the sending account (prefer the environment variable).",
        show_default=False,
    ),
]
WorkerOption = Annotated[
    str | None,
    typer.Option(
        "--worker", help="Worker name: its key file in DATA names the stake. Default 'worker'."
    ),
]
WorkerIdOption = Annotated[
    str | None,
    typer.Option("--worker-id", help="The worker's public key instead of its key file."),
]


def _view(rpc: str, contract: str, private_key: str | None) -> EvmChain:
    from swarmgen.chain.evm import EvmChain, connect

    return EvmChain(connect(rpc), contract, private_key)


def _worker_key(worker: str | None, worker_id: str | None, data: Path | None) -> bytes:
    from swarmgen.chain.port import key32

    if worker_id is not None:
        return key32(worker_id)
    from swarmgen.keyfile import load_or_create
    from swarmgen.worker.settings import WorkerSettings

    settings = WorkerSettings(**given(models=["echo-image@fp32"], name=worker, data=data))
    if not settings.key_path.is_file():
        raise typer.BadParameter(f"no worker key at {settings.key_path}", param_hint="--worker")
    return key32(load_or_create(settings.key_path).public_key)


@chain_app.command("deploy")
@reports_errors
def deploy(
    rpc: RpcOption,
    private_key: PrivateKeyOption = None,
    min_bond: Annotated[int, typer.Option(help="Least bond a coordinator posts (wei).")] = 10**18,
    unlock_delay_s: Annotated[int, typer.Option(help="Seconds before unbonded stake pays out.")] = (
        7 * 24 * 3600
    ),
    challenge_window_s: Annotated[
        int, typer.Option(help="Seconds a worker has to dispute a slash.")
    ] = 2 * 24 * 3600,
) -> None:
    """Deploy the contract; prints its address."""
    from swarmgen.chain.evm import EvmChain, connect

    if private_key is None:
        raise typer.BadParameter("set SWARMGEN_CHAIN_PRIVATE_KEY", param_hint="--private-key")
    chain = EvmChain.deploy(
        connect(rpc),
        private_key,
        min_bond=min_bond,
        unlock_delay_s=unlock_delay_s,
        challenge_window_s=challenge_window_s,
    )
    print(chain.contract.address)


@chain_app.command("register")
@reports_errors
def register(
    rpc: RpcOption,
    contract: ContractOption,
    bond: Annotated[int, typer.Option(help="Bond to lock (wei).")],
    private_key: PrivateKeyOption = None,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Register this coordinator's ledger key with a bond."""
    from swarmgen.chain.port import key32

    with admin_for(data, database_url) as admin:
        keys = admin.epochs.keys
    print(_view(rpc, contract, private_key).register_coordinator(key32(keys.public_key), bond))


@chain_app.command("post")
@reports_errors
def post(
    rpc: RpcOption,
    contract: ContractOption,
    private_key: PrivateKeyOption = None,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Post every sealed epoch the chain has not got yet, oldest first, each once."""
    from swarmgen.chain.outbox import ChainOutbox
    from swarmgen.clock import SystemClock

    with admin_for(data, database_url) as admin:
        chain = _view(rpc, contract, private_key)
        outbox = ChainOutbox(admin.store, chain, SystemClock())
        outbox.owe_sealed()
        drained = outbox.drain()
    print(json.dumps(asdict(drained), sort_keys=True))
    if drained.failed:
        raise typer.Exit(1)


@stake_app.command("show")
@reports_errors
def show(
    rpc: RpcOption,
    contract: ContractOption,
    worker: WorkerOption = None,
    worker_id: WorkerIdOption = None,
    data: DataOption = None,
) -> None:
    """Print the worker's stake as the chain holds it."""
    info = _view(rpc, contract, None).stake_of(_worker_key(worker, worker_id, data))
    print(json.dumps({**asdict(info), "slashable": info.slashable}, sort_keys=True))


@stake_app.command("deposit")
@reports_errors
def deposit(
    amount: Annotated[int, typer.Argument(help="Amount to lock (wei).")],
    rpc: RpcOption,
    contract: ContractOption,
    private_key: PrivateKeyOption = None,
    worker: WorkerOption = None,
    worker_id: WorkerIdOption = None,
    data: DataOption = None,
) -> None:
    """Lock AMOUNT behind the worker; the first deposit makes the sender its owner."""
    key = _worker_key(worker, worker_id, data)
    print(_view(rpc, contract, private_key).deposit(key, amount))


@stake_app.command("unlock")
@reports_errors
def unlock(
    amount: Annotated[int, typer.Argument(help="Amount to start unbonding (wei).")],
    rpc: RpcOption,
    contract: ContractOption,
    private_key: PrivateKeyOption = None,
    worker: WorkerOption = None,
    worker_id: WorkerIdOption = None,
    data: DataOption = None,
) -> None:
    """Start the unlock delay for AMOUNT of locked stake (it stays slashable meanwhile)."""
    key = _worker_key(worker, worker_id, data)
    print(_view(rpc, contract, private_key).request_unlock(key, amount))


@stake_app.command("withdraw")
@reports_errors
def withdraw(
    rpc: RpcOption,
    contract: ContractOption,
    private_key: PrivateKeyOption = None,
    worker: WorkerOption = None,
    worker_id: WorkerIdOption = None,
    data: DataOption = None,
) -> None:
    """Pay out unbonded stake whose delay has passed, unless a slash is pending."""
    key = _worker_key(worker, worker_id, data)
    print(_view(rpc, contract, private_key).withdraw(key))


def with_stake(command: Callable[..., None]) -> typer.Typer:
    """``command`` (``swarmgen worker``) as a group that also holds ``stake``.

    ``swarmgen worker --model ...`` runs the worker as before; ``swarmgen worker stake
    ...`` reaches the stake commands. The group's callback takes ``command``'s own
    options (its signature is copied, so it follows the command), with ``--model``
    checked by hand: a required group option would be demanded of the subcommands too.
    """
    signature = inspect.signature(command, eval_str=True)
    model = signature.parameters["model"]
    _, *extras = get_args(model.annotation)
    optional = model.replace(annotation=Annotated[list[str] | None, *extras], default=None)
    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    parameters = [
        context,
        *(optional if p.name == "model" else p for p in signature.parameters.values()),
    ]

    def callback(ctx: typer.Context, **options: Any) -> None:
        if ctx.invoked_subcommand is not None:
            return
        if not options.get("model"):
            raise typer.BadParameter("Missing option '--model'.", param_hint="--model")
        command(**options)

    callback.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in parameters}
    callback.__doc__ = command.__doc__
    group = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    group.callback()(callback)
    group.add_typer(stake_app, name="stake")
    return group
