//! Pure renderers: model → file text. No I/O, no programs, deterministic.

pub mod caddy;
pub mod compose;
pub mod dockerfile;

use crate::generated::Generated;
use crate::stack::{self, Stack};

/// Every file `gen` writes, in a fixed order, headers included.
pub fn all(stack: &Stack) -> Vec<Generated> {
    vec![
        Generated::new(stack::DOCKERFILE, &dockerfile::render(&stack.image)),
        Generated::new(
            stack::DOCKERIGNORE,
            &dockerfile::render_ignore(&stack.image),
        ),
        Generated::new(stack::COMPOSE, &compose::render(&stack.compose)),
        Generated::new(stack::CADDYFILE, &caddy::render(&stack.caddy)),
        Generated::new(
            stack::ENV_EXAMPLE,
            &compose::render_env_example(&stack.compose),
        ),
    ]
}
