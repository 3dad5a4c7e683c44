//! Options that need a flag `main` lacks: a restart mode needs `rest` (updates come over REST),
//! the cycle and `mqtt_tls` need `mqtt`.
mod restart_without_rest {
    #[pepeunit::main(mqtt, restart = "reload")]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

mod cycle_without_mqtt {
    #[pepeunit::main(rest, cycle = "50ms")]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

mod tls_without_mqtt {
    #[pepeunit::main(rest, mqtt_tls = "on")]
    pub async fn unit(_unit: pepeunit::client::PepeunitClient) -> pepeunit::Result<()> {
        Ok(())
    }
}

fn main() {}
