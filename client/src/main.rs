//! `hallq`: the command-line client for kiosks, windows, displays and admins.

fn main() {
    println!("hallq: the hallq command-line client (commands arrive with the daemon)");
}
