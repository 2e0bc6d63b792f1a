//! `GET /status`: the cluster as a page. The same gathering as
//! `GET /api/status` (every node asked over the peer transport), shown as
//! a table: up or down, the peer address and priority, whom each node
//! follows, its quorum term (marked where it holds a majority's
//! authority), and what it runs according to the cluster file. `/live.js`
//! keeps it current from `GET /api/status/live`.

use std::sync::Arc;

use axum::Extension;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::Ops;
use super::status::{StatusOut, gather};
use crate::pages::layout::{self, page};
use crate::session::Viewer;

/// `GET /status`.
pub async fn show(viewer: Viewer, Extension(ops): Extension<Arc<Ops>>) -> Response {
    let status = gather(&ops).await;
    layout::html(StatusCode::OK, status_page(&viewer, &status))
}

fn status_page(viewer: &Viewer, status: &StatusOut) -> Markup {
    page(
        "Status",
        Some(viewer),
        html! {
            h1 { "Cluster status" }
            p.card data-coordinator {
                "Coordinator: "
                @match &status.coordinator {
                    Some(id) => strong.coordinator { (id) },
                    None => span.no { "none (an election may be under way)" },
                }
            }
            p.hint { "★ marks the node holding a majority's authority in its term. \
                      The table follows the cluster as it changes (with JavaScript; \
                      otherwise reload the page to ask the nodes again)." }
            table.events.status data-status data-live="/api/status/live" {
                thead { tr {
                    th { "Node" } th { "State" } th { "Peer address" } th { "Priority" }
                    th { "Follows" } th { "Term" } th { "Services" }
                } }
                tbody {
                    @for node in &status.nodes {
                        tr {
                            td.name data-label="Node" {
                                (node.id)
                                @if status.coordinator.as_deref() == Some(node.id.as_str()) {
                                    " " span.state.final title="the coordinator" { "coordinator" }
                                }
                            }
                            td data-label="State" {
                                @if node.state == "up" { span.yes { "up" } }
                                @else { span.no { "down" } }
                            }
                            td data-label="Peer address" { code { (node.peer_address) } }
                            td data-label="Priority" { (node.priority) }
                            td data-label="Follows" {
                                (node.coordinator.as_deref().unwrap_or("–"))
                            }
                            td data-label="Term" {
                                @match node.term {
                                    Some(term) => {
                                        (term)
                                        @if node.authority {
                                            " " span.authority title="holds a majority's authority" { "★" }
                                        }
                                    }
                                    None => "–",
                                }
                            }
                            td data-label="Services" {
                                @if node.services.is_empty() { "–" }
                                @for (i, service) in node.services.iter().enumerate() {
                                    @if i > 0 { br; }
                                    (service)
                                }
                            }
                        }
                    }
                }
            }
            script src=(crate::scripts::live_src()) defer {}
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::status::NodeOut;
    use convene_events::zone::Zone;

    fn node(id: &str, up: bool, authority: bool) -> NodeOut {
        NodeOut {
            id: id.into(),
            peer_address: "127.0.0.1:1".into(),
            priority: 1,
            state: if up { "up" } else { "down" },
            coordinator: up.then(|| "B".to_string()),
            live: vec![],
            term: up.then_some(7),
            authority,
            services: vec!["files (<shared>)".into(), "web :8080".into()],
        }
    }

    #[test]
    fn the_page_marks_the_coordinator_and_the_authority() {
        let viewer = Viewer {
            name: "ada".into(),
            zone: Zone::utc(),
            csrf: "x".into(),
        };
        let status = StatusOut {
            coordinator: Some("B".into()),
            nodes: vec![
                node("A", true, false),
                node("B", true, true),
                node("C", false, false),
            ],
        };
        let text = status_page(&viewer, &status).into_string();
        assert!(
            text.contains("<strong class=\"coordinator\">B</strong>"),
            "{text}"
        );
        assert_eq!(text.matches("title=\"the coordinator\"").count(), 1);
        assert_eq!(
            text.matches("title=\"holds a majority's authority\"")
                .count(),
            1
        );
        assert!(text.contains("&lt;shared&gt;"));
        assert!(text.contains(">down<"));
        // The live script, from our own origin, and where it listens.
        assert!(text.contains("data-live=\"/api/status/live\""), "{text}");
        assert!(text.contains("<script src=\"/live.js?v="), "{text}");
    }
}
