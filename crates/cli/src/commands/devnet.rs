//! `sessionkeys devnet`: the devnet's fixed addresses (for session and ops files).

use crate::error::CliError;

pub fn run(json: bool) -> Result<(), CliError> {
    let devnet = sessionkeys_devnet::Devnet::new()?;
    let a = devnet.addresses;
    let rows = [
        (
            "entryPointV07",
            sessionkeys_chain::EntryPointVersion::V07.address(),
        ),
        (
            "entryPointV08",
            sessionkeys_chain::EntryPointVersion::V08.address(),
        ),
        ("validator", a.validator),
        ("usageLens", a.usage_lens),
        ("registry", a.registry),
        ("registryValidator", a.registry_validator),
        ("factoryV07", a.factory_v07),
        ("factoryV08", a.factory_v08),
        ("usdc", a.usdc),
        ("gold", a.token18),
        ("game", a.game),
        ("paymasterV07", a.paymaster_v07),
        ("paymasterV08", a.paymaster_v08),
    ];
    if json {
        let map: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    serde_json::Value::String(v.to_checksum(None)),
                )
            })
            .collect();
        outln!("{}", serde_json::Value::Object(map));
    } else {
        for (name, address) in rows {
            outln!("{name:<18} {}", address.to_checksum(None));
        }
    }
    Ok(())
}
