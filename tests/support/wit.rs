//! Components made from WIT alone (wit-component's dummy module): for types
//! and imports no example component has.

use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// The bytes of a component of world `world` in the WIT text `wit`, whose
/// functions do nothing.
pub fn dummy_component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let package = resolve
        .push_str("dummy.wit", wit)
        .unwrap_or_else(|e| panic!("{e:#}\n{wit}"));
    let world = resolve.select_world(&[package], Some(world)).unwrap();
    let mut module =
        wit_component::dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}
