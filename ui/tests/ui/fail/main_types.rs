#[pepeunit::main(mqtt)]
async fn main(_unit: String) -> Result<(), String> {
    Ok(())
}
