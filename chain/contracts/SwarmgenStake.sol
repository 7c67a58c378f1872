// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title swarmgen stake, epoch seals and slashing
/// @notice What a worker need not trust a coordinator with: the registry of
/// coordinators (each with its Ed25519 ledger key and a bond), workers' stake in the
/// native coin, every coordinator's epoch seals (write-once), and slashes that wait out
/// a challenge window during which the worker may refute them with the receipt the
/// coordinator judged. The dispute rule is docs/decisions/0018-stake-on-chain.md.
contract SwarmgenStake {
    struct Coordinator {
        bytes32 ledgerKey; // Ed25519 public key that signs the coordinator's ledger
        uint256 bond;
        bool registered;
    }

    struct Stake {
        address owner; // the EVM address bound to the worker's Ed25519 key
        uint256 locked;
        uint256 unbonding;
        uint64 unlockAt; // when the unbonding amount may be withdrawn
        uint32 pendingSlashes; // no withdrawal while a slash waits
    }

    struct Seal {
        bytes32 root; // Merkle root over the epoch's ledger entries
        bytes32 headHash; // ledger head when the epoch closed
        uint64 count; // entries in the epoch
        uint64 postedAt;
    }

    enum SlashState {
        None,
        Pending,
        Executed,
        Cancelled
    }

    struct Slash {
        address coordinator;
        bytes32 worker;
        uint256 amount;
        uint64 epoch;
        uint64 executableAt;
        bytes32 evidence; // digest of the verdict's evidence
        bytes32 receiptDigest; // keccak256 of the chain encoding of the judged receipt
        bytes32 jobKey; // sha256 of the job id
        bytes32 claimedOutput; // output digest the coordinator says the receipt carries
        bytes32 consensusOutput; // output digest the validators agreed on
        SlashState state;
    }

    uint256 public immutable minBond;
    uint64 public immutable unlockDelay;
    uint64 public immutable challengeWindow;

    mapping(address => Coordinator) public coordinators;
    /// @notice Who registered each ledger key: how a verifier holding only an export
    /// (which names the key) finds the seals on chain.
    mapping(bytes32 => address) public coordinatorByKey;
    mapping(bytes32 => Stake) public stakes;
    mapping(address => mapping(uint64 => Seal)) public seals;
    mapping(uint256 => Slash) public slashes;
    /// @notice Each coordinator's slash per evidence digest: a verdict is slashed once,
    /// so a coordinator that retries a proposal it is unsure about finds the first one.
    mapping(address => mapping(bytes32 => uint256)) public slashIdOf;
    uint256 public slashCount;
    uint256 public slashedTotal;

    event CoordinatorRegistered(address indexed coordinator, bytes32 ledgerKey, uint256 bond);
    event Staked(bytes32 indexed worker, address indexed owner, uint256 amount);
    event UnlockRequested(bytes32 indexed worker, uint256 amount, uint64 unlockAt);
    event Withdrawn(bytes32 indexed worker, address indexed owner, uint256 amount);
    event SealPosted(
        address indexed coordinator, uint64 indexed epoch, bytes32 root, bytes32 headHash, uint64 count
    );
    event SlashProposed(
        uint256 indexed id, address indexed coordinator, bytes32 indexed worker, uint256 amount, bytes32 evidence
    );
    event SlashExecuted(uint256 indexed id, bytes32 indexed worker, uint256 amount);
    event SlashDisputed(uint256 indexed id, bytes32 indexed worker, uint256 penalty);

    error BondTooSmall();
    error AlreadyRegistered();
    error KeyTaken();
    error NotCoordinator();
    error NotOwner();
    error NothingToDo();
    error TooMuch();
    error StillLocked();
    error SlashPending();
    error AlreadySealed();
    error NotSealed();
    error BadSlash();
    error AlreadyProposed();
    error NotPending();
    error WindowOpen();
    error WindowClosed();
    error WrongReceipt();
    error DisputeRejected();
    error TransferFailed();

    constructor(uint256 minBond_, uint64 unlockDelay_, uint64 challengeWindow_) {
        // Stake must still be there when a slash proposed at the last moment executes.
        require(unlockDelay_ > challengeWindow_, "unlock delay must exceed the challenge window");
        minBond = minBond_;
        unlockDelay = unlockDelay_;
        challengeWindow = challengeWindow_;
    }

    modifier onlyCoordinator() {
        if (!coordinators[msg.sender].registered) revert NotCoordinator();
        _;
    }

    // coordinators ---------------------------------------------------------------------

    function registerCoordinator(bytes32 ledgerKey) external payable {
        if (coordinators[msg.sender].registered) revert AlreadyRegistered();
        if (msg.value < minBond) revert BondTooSmall();
        if (coordinatorByKey[ledgerKey] != address(0)) revert KeyTaken();
        coordinators[msg.sender] = Coordinator(ledgerKey, msg.value, true);
        coordinatorByKey[ledgerKey] = msg.sender;
        emit CoordinatorRegistered(msg.sender, ledgerKey, msg.value);
    }

    // worker stake ---------------------------------------------------------------------

    /// @notice Lock msg.value behind `worker` (its Ed25519 key). The first deposit binds
    /// the sender as the stake's owner; only the owner adds, unlocks, withdraws, disputes.
    function deposit(bytes32 worker) external payable {
        if (msg.value == 0) revert NothingToDo();
        Stake storage s = stakes[worker];
        if (s.owner == address(0)) s.owner = msg.sender;
        else if (s.owner != msg.sender) revert NotOwner();
        s.locked += msg.value;
        emit Staked(worker, msg.sender, msg.value);
    }

    /// @notice Move `amount` of locked stake to unbonding; the delay restarts.
    function requestUnlock(bytes32 worker, uint256 amount) external {
        Stake storage s = stakes[worker];
        if (s.owner != msg.sender) revert NotOwner();
        if (amount == 0) revert NothingToDo();
        if (amount > s.locked) revert TooMuch();
        s.locked -= amount;
        s.unbonding += amount;
        s.unlockAt = uint64(block.timestamp) + unlockDelay;
        emit UnlockRequested(worker, amount, s.unlockAt);
    }

    /// @notice Pay out unbonded stake once its delay has passed and no slash waits.
    function withdraw(bytes32 worker) external {
        Stake storage s = stakes[worker];
        if (s.owner != msg.sender) revert NotOwner();
        if (s.unbonding == 0) revert NothingToDo();
        if (block.timestamp < s.unlockAt) revert StillLocked();
        if (s.pendingSlashes > 0) revert SlashPending();
        uint256 amount = s.unbonding;
        s.unbonding = 0;
        emit Withdrawn(worker, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Stake that a slash can still reach (locked and unbonding).
    function slashable(bytes32 worker) public view returns (uint256) {
        Stake storage s = stakes[worker];
        return s.locked + s.unbonding;
    }

    // epoch seals ----------------------------------------------------------------------

    /// @notice Record the sender's seal of `epoch`; a seal is written once, never replaced.
    function postSeal(uint64 epoch, bytes32 root, bytes32 headHash, uint64 count) external onlyCoordinator {
        Seal storage existing = seals[msg.sender][epoch];
        if (existing.postedAt != 0) revert AlreadySealed();
        seals[msg.sender][epoch] = Seal(root, headHash, count, uint64(block.timestamp));
        emit SealPosted(msg.sender, epoch, root, headHash, count);
    }

    function sealOf(address coordinator, uint64 epoch)
        external
        view
        returns (bytes32 root, bytes32 headHash, uint64 count, uint64 postedAt)
    {
        Seal storage s = seals[coordinator][epoch];
        return (s.root, s.headHash, s.count, s.postedAt);
    }

    // slashing -------------------------------------------------------------------------

    struct SlashClaim {
        bytes32 worker;
        uint256 amount;
        uint64 epoch;
        bytes32 evidence;
        bytes32 receiptDigest;
        bytes32 jobKey;
        bytes32 claimedOutput;
        bytes32 consensusOutput;
    }

    /// @notice The sender judged `c.worker` in its sealed epoch `c.epoch`: the receipt it
    /// judged (committed by digest) carries an output that is not the consensus output.
    function proposeSlash(SlashClaim calldata c) external onlyCoordinator returns (uint256 id) {
        if (seals[msg.sender][c.epoch].postedAt == 0) revert NotSealed();
        if (c.amount == 0 || c.amount > slashable(c.worker)) revert BadSlash();
        if (c.claimedOutput == c.consensusOutput || c.receiptDigest == bytes32(0)) revert BadSlash();
        if (slashIdOf[msg.sender][c.evidence] != 0) revert AlreadyProposed();
        id = ++slashCount;
        slashIdOf[msg.sender][c.evidence] = id;
        slashes[id] = Slash({
            coordinator: msg.sender,
            worker: c.worker,
            amount: c.amount,
            epoch: c.epoch,
            executableAt: uint64(block.timestamp) + challengeWindow,
            evidence: c.evidence,
            receiptDigest: c.receiptDigest,
            jobKey: c.jobKey,
            claimedOutput: c.claimedOutput,
            consensusOutput: c.consensusOutput,
            state: SlashState.Pending
        });
        stakes[c.worker].pendingSlashes += 1;
        emit SlashProposed(id, msg.sender, c.worker, c.amount, c.evidence);
    }

    /// @notice After the window, take the amount (or what is left of it) out of the stake.
    /// Anyone may call it: the outcome no longer depends on who does.
    function executeSlash(uint256 id) external {
        Slash storage sl = slashes[id];
        if (sl.state != SlashState.Pending) revert NotPending();
        if (block.timestamp < sl.executableAt) revert WindowOpen();
        Stake storage s = stakes[sl.worker];
        uint256 fromLocked = sl.amount <= s.locked ? sl.amount : s.locked;
        s.locked -= fromLocked;
        uint256 rest = sl.amount - fromLocked;
        uint256 fromUnbonding = rest <= s.unbonding ? rest : s.unbonding;
        s.unbonding -= fromUnbonding;
        uint256 taken = fromLocked + fromUnbonding;
        s.pendingSlashes -= 1;
        sl.state = SlashState.Executed;
        slashedTotal += taken; // burned: held by the contract, owned by no one
        emit SlashExecuted(id, sl.worker, taken);
    }

    /// @notice The worker refutes a pending slash with the receipt the coordinator judged.
    /// `receipt` is abi.encode(jobKey, worker, outputDigest, signature); it must hash to
    /// the committed digest, and the slash is cancelled when that receipt does not carry
    /// what the coordinator claimed (another job, another worker, or another output).
    function dispute(uint256 id, bytes calldata receipt) external {
        Slash storage sl = slashes[id];
        if (sl.state != SlashState.Pending) revert NotPending();
        if (block.timestamp >= sl.executableAt) revert WindowClosed();
        Stake storage s = stakes[sl.worker];
        if (s.owner != msg.sender) revert NotOwner();
        if (keccak256(receipt) != sl.receiptDigest) revert WrongReceipt();
        (bytes32 jobKey, bytes32 worker, bytes32 output,) = abi.decode(receipt, (bytes32, bytes32, bytes32, bytes));
        if (jobKey == sl.jobKey && worker == sl.worker && output == sl.claimedOutput) revert DisputeRejected();
        s.pendingSlashes -= 1;
        sl.state = SlashState.Cancelled;
        // The coordinator misquoted a receipt it had: its bond pays the worker what it
        // tried to take (as far as the bond goes), locked behind the worker.
        Coordinator storage co = coordinators[sl.coordinator];
        uint256 penalty = sl.amount <= co.bond ? sl.amount : co.bond;
        co.bond -= penalty;
        s.locked += penalty;
        emit SlashDisputed(id, sl.worker, penalty);
    }
}
