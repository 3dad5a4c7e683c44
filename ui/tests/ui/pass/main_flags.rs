//! `#[pepeunit::main]` with no flag (a unit that only runs its setup), `rest` alone, flags in any order.

use pepeunit::client::PepeunitClient;

#[pepeunit::main]
async fn offline(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}

mod rest_only {
    #[pepeunit::main(rest)]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

mod reversed {
    #[pepeunit::main(rest, mqtt)]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = (offline, rest_only::unit, reversed::unit);
}
