//! The images of the stack's third-party services (postgres, redis, caddy) on a machine that
//! may reach no registry, shared by the rehearsal and the smoke test: the image the staging
//! file names when it is local (said to be a stand-in when its labels say so), else a
//! STAND-IN assembled now ([`crate::tools::service_standins`]).

use anyhow::Result;
use xshell::Shell;

use crate::rehearsal::{standin_name, Kind, Source, PROVIDES_LABEL, STANDIN_LABEL};
use crate::tools::docker::{label, Docker};
use crate::tools::service_standins::Builder;

/// The staging file's own image for a third-party service; said to be a stand-in when its
/// labels say it is one (a staging file may name a stand-in itself).
pub fn named(docker: &Docker, kind: Kind, staging_image: &str) -> Result<(String, Source)> {
    let inspect = docker.inspect_image(staging_image)?;
    let of = inspect.as_ref().and_then(|i| label(i, STANDIN_LABEL));
    Ok(match of {
        Some(of) => {
            let provides = inspect
                .as_ref()
                .and_then(|i| label(i, PROVIDES_LABEL))
                .unwrap_or("a local stand-in")
                .to_string();
            (
                staging_image.to_string(),
                Source::Standin {
                    kind,
                    provides,
                    stands_in_for: of.to_string(),
                },
            )
        }
        None => (staging_image.to_string(), Source::Real),
    })
}

/// The stand-in for `staging_image` (service `service`), built now or found up to date by
/// `builder`; its seconds. `who` starts each progress line (`rehearse`, `smoke`).
pub fn standin(
    sh: &Shell,
    builder: &Builder,
    who: &str,
    service: &str,
    kind: Kind,
    staging_image: &str,
) -> Result<(String, Source, f64)> {
    let image = standin_name(staging_image);
    eprintln!("{who}: STAND-IN {image} for {staging_image} (service {service})");
    let ready = builder.ensure(sh, kind.as_str(), &image, staging_image)?;
    eprintln!(
        "{who}: STAND-IN {image} {} in {:.1} s: {}",
        if ready.built { "built" } else { "up to date" },
        ready.seconds,
        ready.provides
    );
    Ok((
        image,
        Source::Standin {
            kind,
            provides: ready.provides,
            stands_in_for: staging_image.to_string(),
        },
        ready.seconds,
    ))
}
