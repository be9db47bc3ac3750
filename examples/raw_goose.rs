//! Raw Goose, the baseline of the generator benchmark: every user GETs `/` in a
//! loop, nothing else. Takes Goose's own options (`-H`, `-u`, `-t`, …).

use goose::prelude::*;

async fn get_root(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("raw").register_transaction(transaction!(get_root)))
        .execute()
        .await?;
    Ok(())
}
