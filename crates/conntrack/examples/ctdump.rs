//! List the TCP entries of this namespace's conntrack table.
fn main() -> Result<(), conntrack::Error> {
    let mut client = conntrack::Client::new()?;
    for flow in client.dump(None)? {
        println!("{:?}", flow?);
    }
    println!("{:?}", client.probe_tracking(conntrack::Family::Inet));
    Ok(())
}
