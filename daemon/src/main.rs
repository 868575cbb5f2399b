//! `hallqd`: thin entry point.

fn main() {
    println!("hallqd: the hallq daemon (the network service arrives in the next step)");
}
