//! Each restart mode.
mod exec {
    #[pepeunit::main(mqtt, rest, restart = "exec")]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

mod spawn {
    #[pepeunit::main(mqtt, rest, restart = "spawn")]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

mod none {
    #[pepeunit::main(rest, restart = "none")]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = (exec::unit, spawn::unit, none::unit);
}
