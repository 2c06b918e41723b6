fn main() {
    let s = std::env::args().nth(1).unwrap_or_default();
    let s = if s == "DEEP" { "(".repeat(10000) } else { s };
    let a = cavra_shell::analyze(&s, &Default::default());
    println!("{:#?}", a);
}
