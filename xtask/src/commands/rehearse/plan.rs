//! The plan: which services start, on which image (real, stand-in built here, or the API
//! image built now), and the proxy's loopback ports.

use super::*;

/// The plan for the services the rehearsal starts: each one's image and where it came from,
/// and the proxy's loopback ports; with the seconds the images took.
pub(super) fn make_plan(
    env: &Env<'_>,
    roles: &Roles,
    file_services: &[FileService],
    project: &str,
) -> Result<(Plan, Timings)> {
    let start = start_set(file_services, &roles.proxy)?;
    let mut picker = Picker {
        env,
        roles,
        // a one-shot service of the API's image (the migration) runs the image rehearsed for api
        api_staging: file_services
            .iter()
            .find(|s| s.name == roles.api)
            .map(|s| s.image.clone()),
        api_built: None,
        builder: None,
        timings: Timings::default(),
    };
    let mut services = Vec::new();
    for name in &start {
        check_interrupt()?;
        let fs = file_services
            .iter()
            .find(|s| &s.name == name)
            .context("start set names a service the file lacks")?;
        let (image, source) = picker.image(name, &fs.image)?;
        services.push(ServicePlan {
            name: name.clone(),
            staging_image: fs.image.clone(),
            image,
            source,
            has_ports: !fs.ports.is_empty(),
        });
    }
    Ok((
        Plan {
            project: project.to_string(),
            services,
            proxy: roles.proxy.clone(),
            proxy_ports: proxy_ports(file_services, roles)?,
        },
        picker.timings,
    ))
}

/// Chooses each started service's image; builds the API image once and the stand-ins as
/// needed, timing both.
struct Picker<'a> {
    env: &'a Env<'a>,
    roles: &'a Roles,
    /// The API's image in the staging file.
    api_staging: Option<String>,
    api_built: Option<(String, Source)>,
    builder: Option<Builder>,
    timings: Timings,
}

impl Picker<'_> {
    /// The image service `name` runs (its staging image is `staging_image`), and its source.
    fn image(&mut self, name: &str, staging_image: &str) -> Result<(String, Source)> {
        let env = self.env;
        let api_like = name == self.roles.api || self.api_staging.as_deref() == Some(staging_image);
        if api_like {
            if self.api_built.is_none() {
                let t = Instant::now();
                self.api_built = Some(api_image(env.docker, env.ctx, env.model, env.args)?);
                self.timings.api_image = t.elapsed().as_secs_f64();
            }
            return self.api_built.clone().context("the API image");
        }
        let Some(kind) = self.roles.kind(name) else {
            return Ok((staging_image.to_string(), Source::Real));
        };
        let real = match env.args.images {
            Images::Real => true,
            Images::Standins => false,
            Images::Auto => env.docker.image_exists(staging_image)?,
        };
        if real {
            real_image(env.docker, kind, staging_image)
        } else {
            self.standin(name, kind, staging_image)
        }
    }

    /// The stand-in for a third-party service's image, built (or found up to date) now.
    fn standin(&mut self, name: &str, kind: Kind, staging_image: &str) -> Result<(String, Source)> {
        let env = self.env;
        if self.builder.is_none() {
            self.builder = Some(Builder::new(env.dir, env.args.rebuild_standins)?);
        }
        let b = self.builder.as_ref().context("stand-in builder")?;
        let (image, source, secs) =
            crate::ops::services::standin(env.sh, b, "rehearse", name, kind, staging_image)?;
        self.timings.standins += secs;
        Ok((image, source))
    }
}

/// The staging file's own image for a third-party service; said to be a stand-in when its
/// labels say it is one.
fn real_image(docker: &ComposeCli, kind: Kind, staging_image: &str) -> Result<(String, Source)> {
    if !docker.image_exists(staging_image)? {
        eprintln!("rehearse: {staging_image} is not local; compose will try to pull it");
    }
    crate::ops::services::named(docker.engine(), kind, staging_image)
}

/// A free loopback port for each TCP port the proxy publishes.
fn proxy_ports(file_services: &[FileService], roles: &Roles) -> Result<Vec<Loopback>> {
    let proxy = file_services
        .iter()
        .find(|s| s.name == roles.proxy)
        .context("no proxy service")?;
    let mut proxy_ports: Vec<Loopback> = Vec::new();
    for p in &proxy.ports {
        if proxy_ports
            .iter()
            .any(|l| l.target == p.target && l.protocol == p.protocol)
        {
            continue;
        }
        if p.protocol != "tcp" {
            continue;
        }
        proxy_ports.push(Loopback {
            host: free_port()?,
            target: p.target,
            protocol: p.protocol.clone(),
        });
    }
    Ok(proxy_ports)
}

/// The API image to rehearse: given, or built now on the Node image (or its stand-in).
pub(super) fn api_image(
    docker: &ComposeCli,
    ctx: &Ctx,
    model: &Model,
    args: &Args,
) -> Result<(String, Source)> {
    if let Some(img) = &args.api_image {
        if !docker.image_exists(img)? {
            bail!("--api-image {img}: no such image in the local engine; build or load it first");
        }
        return Ok((
            img.clone(),
            Source::Api {
                note: "given with --api-image".into(),
                standin_base: None,
            },
        ));
    }
    let real = &model.config.node.image;
    let node = match &args.node_image {
        // `standin` is the stand-in's tag, as for build-image (named so below)
        Some(n) => crate::ops::build::requested_base(Some(n), &model.config).0,
        None if docker.image_exists(real)? => real.clone(),
        None => {
            let s = standin_name(real);
            if !docker.image_exists(&s)? {
                bail!(
                    "the API image needs a Node base: neither {real} nor its STAND-IN {s} is in the local \
                     engine; build the stand-in with `cargo xtask standin` (.ci/run does), or pass \
                     --node-image IMAGE or --api-image IMAGE"
                );
            }
            s
        }
    };
    let standin_of = docker.image_label(&node, STANDIN_LABEL)?;
    let base = match &standin_of {
        Some(of) => format!("STAND-IN base {node} (for {of})"),
        None => format!("base {node}"),
    };
    let tag = format!("{}:rehearsal", model.config.api.image);
    eprintln!("rehearse: building the API image {tag} on {base}");
    // the same plan and buildx invocation as `cargo xtask build-image` (OCI labels, .npmrc
    // secret, stand-in label), tagged for the rehearsal
    let engine = crate::tools::docker::Docker::find()?;
    let bargs = crate::ops::build::Args {
        tag: Some("rehearsal".into()),
        node_image: Some(node.clone()),
        ..crate::ops::build::Args::default()
    };
    let mut plan = crate::ops::build::plan(ctx, model, &bargs, &engine)?;
    plan.tags.truncate(1);
    plan.labels.push(("xtask.rehearsal".into(), "true".into()));
    plan.labels
        .push(("xtask.rehearsal.node-base".into(), node.clone()));
    let built =
        crate::ops::build::build(&engine, &plan, crate::tools::docker::Progress::Plain, true)?;
    if !built.ok {
        eprint!("{}", crate::ops::build::failure_report(&built));
        bail!(
            "building the API image {tag} on {node} failed (the failing step is shown above); \
             fix the build, or pass --api-image IMAGE to rehearse an image built elsewhere"
        );
    }
    Ok((
        tag,
        Source::Api {
            note: format!(
                "built from {} on {base}; local only, never pushed",
                stack::DOCKERFILE
            ),
            standin_base: standin_of.map(|_| node.clone()),
        },
    ))
}

/// A free TCP port on 127.0.0.1 (the engine binds it right after; the race is harmless here).
pub(super) fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}
