//! Seed 000's model-preloading example. `inference: ran load` on stderr
//! shows when the model really loaded.

activity_sdk::bindings!("example:inference/inference");

/// Loads a model: slow, so cached on the replica. While one instance loads
/// it, any other instance asking for it waits for that load.
#[activity_sdk::actor_cache]
fn load(model_dir: &str) -> String {
    eprintln!("inference: ran load");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    format!("Model loaded from {model_dir}")
}

struct Inference;

#[activity_sdk::activity]
impl bindings::Guest for Inference {
    #[cache(no_cache)]
    fn load_model_task(model_dir: String) {
        load(&model_dir);
    }

    #[cache(no_cache)]
    fn run_inference(model_dir: String, input: Vec<String>) -> Vec<String> {
        let model = load(&model_dir);
        input
            .iter()
            .map(|i| format!("{model} inference on {i}"))
            .collect()
    }
}

bindings::export!(Inference with_types_in bindings);
