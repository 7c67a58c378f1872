// Compile contracts/SwarmgenStake.sol offline with solc-js and write the artifact
// (ABI + creation bytecode) the Python adapter loads. `node compile.js --check` exits 1
// when the committed artifact differs from a fresh compile.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const NAME = "SwarmgenStake";
const source = path.join(__dirname, "contracts", `${NAME}.sol`);
const target = path.join(__dirname, "..", "src", "swarmgen", "chain", "artifact.json");

const input = {
  language: "Solidity",
  sources: { [`${NAME}.sol`]: { content: fs.readFileSync(source, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
const contract = output.contracts[`${NAME}.sol`][NAME];
const artifact = {
  contractName: NAME,
  compiler: `solc-js ${solc.version()}`,
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
const text = JSON.stringify(artifact, null, 1) + "\n";
if (process.argv.includes("--check")) {
  const committed = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
  if (committed !== text) {
    console.error(`${target} is stale: run \`npm run build\` in chain/`);
    process.exit(1);
  }
  console.log("artifact matches a fresh compile");
} else {
  fs.writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
