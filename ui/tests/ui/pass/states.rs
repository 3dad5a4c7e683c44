//! Every form of unit state: declared in memory, stored under its name or a key, a struct or an
//! enum; taken as `&T`/`&mut T` by plain inputs and outputs (several at once, in any order, beside
//! other arguments) and as `State<T>` by any function, `main` included. Never run.

use pepeunit::prelude::*;

#[pepeunit::state]
#[derive(Default, Clone)]
struct Counter {
    count: u64,
}

#[pepeunit::state(stored)]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Plug {
    on: bool,
}

#[pepeunit::state(stored = "limit_w")]
#[derive(Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
enum Limit {
    #[default]
    None,
    Watts(f64),
}

#[pepeunit::input("input/pepeunit")]
fn switch(text: &str, plug: &mut Plug, counter: &mut Counter) {
    plug.on = text == "on";
    counter.count += 1;
}

#[pepeunit::input("input/pepeunit")]
fn set_limit(limit: &mut Limit, watts: f64, plug: &Plug) -> Result<(), String> {
    *limit = Limit::Watts(watts);
    match plug.on {
        true => Ok(()),
        false => Err("the plug is off".to_owned()),
    }
}

#[pepeunit::input("input/pepeunit")]
async fn handle(unit: PepeunitClient, counter: State<Counter>, plug: State<Plug>) {
    let on = plug.read(|plug| plug.on);
    let count = counter.update(|counter| {
        counter.count += 1;
        counter.count
    });
    unit.logger()
        .info(format!("{count} messages, plug on: {on}"));
    counter.set(Counter { count: 0 });
}

#[pepeunit::output("output/pepeunit", every = "1s")]
fn relay(plug: &Plug, limit: &Limit) -> String {
    format!("{} {:?}", plug.on, matches!(limit, Limit::Watts(_)))
}

#[pepeunit::output("output/pepeunit")]
async fn count(counter: State<Counter>) -> u64 {
    counter.get().count
}

#[pepeunit::output(every = "1m")]
fn reset(counter: &mut Counter, _unit: PepeunitClient) {
    counter.count = 0;
}

#[pepeunit::main(mqtt, rest)]
async fn unit(unit: PepeunitClient, limit: State<Limit>) -> pepeunit::Result<()> {
    unit.logger()
        .info(format!("limit {}", matches!(limit.get(), Limit::None)));
    Ok(())
}

fn main() {
    let _ = unit;
    let _ = (switch, set_limit, handle, relay, count, reset);
}
