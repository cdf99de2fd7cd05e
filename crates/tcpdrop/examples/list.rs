//! Print every TCP connection, as `ss -tan` would.
fn main() -> Result<(), tcpdrop::Error> {
    for c in tcpdrop::list()? {
        println!(
            "{:<12} {:<30} {:<30} mapped={} cookie={} inode={}",
            c.state.ss_name(),
            c.local,
            c.remote,
            c.mapped,
            c.cookie,
            c.inode
        );
    }
    Ok(())
}
