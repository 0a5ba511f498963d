//! Retrieval of a chat's context from the tenant: resources found by
//! meaning, entities named in the question or the passages with their
//! neighbours one edge away, and moments of the time window; then the
//! assembly of what fits in the token budget, without duplicates.

use std::collections::{HashMap, HashSet};

use percolate_embedder::Embedder;
use percolate_rem::model::{Edge, Entity, MomentData, Resource};
use percolate_rem::vectors::dot;
use percolate_rem::{Direction, FeedQuery, Metric, SearchQuery, Tenant, TraverseQuery};
use uuid::Uuid;

use super::render;
use super::request::ChatPlan;
use crate::error::DbError;
use crate::service::query_embedder;

type Result<T> = std::result::Result<T, DbError>;

/// Weight of the previous question in the search vector.
const PREVIOUS_QUESTION_WEIGHT: f32 = 0.5;
/// Most entity ids looked up for names found in the question and passages.
const MAX_NAMED_LOOKUPS: usize = 200;
/// Longest run of question words tried as a lower-case name.
const MAX_NAME_WORDS: usize = 4;
/// Most ids tried for lower-case names in the question.
const MAX_NAME_LOOKUPS: usize = 600;
/// Moments of the window examined (newest first).
const MOMENTS_EXAMINED: usize = 200;
/// Shares of the budget each kind may take before the others had theirs:
/// resources, entities, moments (what a kind leaves is used by the others).
const SHARES: [f32; 3] = [0.6, 0.25, 0.15];
/// Least room worth filling with the beginning of a passage too long to fit.
const MIN_TRUNCATED_TOKENS: usize = 64;

/// What a context item is.
#[derive(Clone, Debug)]
pub enum Source {
    /// A resource chunk and its similarity to the question.
    Resource(Resource, f32),
    /// An entity.
    Entity(Entity),
    /// A moment.
    Moment(MomentData),
}

impl Source {
    fn kind(&self) -> usize {
        match self {
            Source::Resource(..) => 0,
            Source::Entity(_) => 1,
            Source::Moment(_) => 2,
        }
    }

    /// The id of what is cited.
    pub fn id(&self) -> Uuid {
        match self {
            Source::Resource(r, _) => r.id,
            Source::Entity(e) => e.id,
            Source::Moment(m) => m.uuid(),
        }
    }
}

/// Why an item was retrieved.
#[derive(Clone, Debug)]
pub enum Why {
    /// Close in meaning to the question.
    Similar,
    /// Named in the question.
    Question,
    /// Named in a retrieved passage (the resource's id).
    Passage(Uuid),
    /// One edge away from a named entity.
    Neighbour {
        /// The named entity.
        of: Uuid,
        /// The edge's relation type.
        rel: String,
        /// Whether the edge goes from `of` to this one.
        outgoing: bool,
    },
    /// A moment that refers to retrieved items (their ids).
    RefersTo(Vec<Uuid>),
    /// A moment of the time window.
    Window,
}

/// One numbered item of the context.
#[derive(Clone, Debug)]
pub struct Item {
    /// Its number, from 1.
    pub number: u32,
    /// What it is.
    pub source: Source,
    /// Why it is here.
    pub why: Why,
    /// How the model is shown it (without the number).
    pub text: String,
    /// Estimated tokens of `text`.
    pub tokens: usize,
}

/// The assembled context.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Items numbered from 1: resources, then entities, then moments.
    pub items: Vec<Item>,
    /// Items retrieved but left out for the budget.
    pub omitted: u32,
    /// Estimated tokens of every item.
    pub tokens: usize,
    /// The search vector (empty when the tenant has no vectors).
    pub query: Vec<f32>,
}

impl Context {
    /// The item with this id, if it made it in.
    pub fn item_of(&self, id: Uuid) -> Option<&Item> {
        self.items.iter().find(|i| i.source.id() == id)
    }
}

/// Estimated tokens of a text: 4 characters a token (a common rule for
/// English with GPT-style tokenizers), plus the item's label.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

/// Retrieves and assembles the context of `plan`'s question.
pub fn retrieve(tenant: &Tenant, embedder: Option<&Embedder>, plan: &ChatPlan) -> Result<Context> {
    let query = query_vector(tenant, embedder, plan)?;
    let resources = find_resources(tenant, &query, plan)?;
    let (entities, edges) = find_entities(tenant, plan, &resources)?;
    let moments = find_moments(tenant, plan, &resources, &entities)?;
    let names: HashMap<Uuid, &Entity> = entities.iter().map(|(e, _)| (e.id, e)).collect();
    let mut candidates: Vec<(Source, Why, String)> = Vec::new();
    for (resource, score) in resources {
        let text = render::resource(&resource, score);
        candidates.push((Source::Resource(resource, score), Why::Similar, text));
    }
    for (entity, why) in &entities {
        let text = render::entity(entity, &edges, &names);
        let mut cited = entity.clone();
        cited.edges = edges.iter().filter(|e| e.src == entity.id && names.contains_key(&e.dst)).cloned().collect();
        candidates.push((Source::Entity(cited), why.clone(), text));
    }
    for (moment, why) in moments {
        let text = render::moment(&moment);
        candidates.push((Source::Moment(moment), why, text));
    }
    let mut context = assemble(candidates, plan.context_tokens);
    context.query = query;
    Ok(context)
}

/// The search vector: the question's, nudged towards the previous user
/// turn's so a follow-up keeps its subject. Empty when the tenant has no
/// vectors (nothing to search, and no model needed).
fn query_vector(tenant: &Tenant, embedder: Option<&Embedder>, plan: &ChatPlan) -> Result<Vec<f32>> {
    if tenant.dimension() == 0 {
        return Ok(Vec::new());
    }
    let embedder = query_embedder(embedder, tenant, "chat cannot search this tenant's resources by meaning")?;
    let mut texts = vec![plan.question()];
    texts.extend(plan.previous_question());
    // The model's vectors are unit length: the sum only needs scaling back.
    let mut vectors = embedder.embed(&texts)?.into_iter();
    let mut query = vectors.next().ok_or_else(|| DbError::Internal("the model returned no vector".into()))?;
    if let Some(previous) = vectors.next() {
        for (q, p) in query.iter_mut().zip(previous) {
            *q += PREVIOUS_QUESTION_WEIGHT * p;
        }
        let norm = dot(&query, &query).sqrt().max(f32::MIN_POSITIVE);
        query.iter_mut().for_each(|q| *q /= norm);
    }
    Ok(query)
}

/// The `top_k` most similar passages at or above `min_score`, leaving out
/// one whose text repeats (or is contained in) a better one.
fn find_resources(tenant: &Tenant, query: &[f32], plan: &ChatPlan) -> Result<Vec<(Resource, f32)>> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let search = SearchQuery { vector: query.to_vec(), top_k: plan.top_k * 2 + 5, filter: plan.filter.clone(), metric: Metric::Cosine, include_embeddings: false };
    let mut kept: Vec<(Resource, f32)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (resource, score) in tenant.search(&search)?.hits {
        if kept.len() == plan.top_k || score < plan.min_score {
            break;
        }
        let text = comparable(&resource.data.content);
        if text.is_empty() || seen.iter().any(|s| s.contains(&text)) {
            continue;
        }
        seen.push(text);
        kept.push((resource, score));
    }
    Ok(kept)
}

/// Lowercase with whitespace collapsed, for spotting repeated passages.
fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Entities named in the question, then in the passages, then their
/// neighbours; with every edge seen between them.
fn find_entities(tenant: &Tenant, plan: &ChatPlan, resources: &[(Resource, f32)]) -> Result<(Vec<(Entity, Why)>, Vec<Edge>)> {
    if plan.max_entities == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut wanted: Vec<(Uuid, Why)> = Vec::new();
    let mut seen = HashSet::new();
    let mut want = |id: Uuid, why: &Why| {
        if seen.insert(id) && wanted.len() < MAX_NAMED_LOOKUPS + MAX_NAME_LOOKUPS {
            wanted.push((id, why.clone()));
        }
    };
    let named_in = |text: &str| percolate_extract::find_entities(text).into_iter().map(|found| percolate_rem::ids::entity_id(found.kind.as_str(), &found.key)).take(MAX_NAMED_LOOKUPS);
    for id in named_in(plan.question()) {
        want(id, &Why::Question);
    }
    // Names written in lower case ("what does alice do?") escape the
    // extractor, which goes by capitals: the question's word runs are tried
    // as person and organisation keys too.
    for id in lowercase_name_ids(plan.question()) {
        want(id, &Why::Question);
    }
    for (resource, _) in resources {
        for id in named_in(&resource.data.content) {
            want(id, &Why::Passage(resource.id));
        }
    }
    let ids: Vec<Uuid> = wanted.iter().map(|(id, _)| *id).collect();
    let mut named: Vec<(Entity, Why)> =
        tenant.get_entities(&ids, true)?.into_iter().zip(wanted).filter_map(|(found, (_, why))| found.map(|e| (e, why))).take(plan.max_entities).collect();
    let mut edges: Vec<Edge> = named.iter().flat_map(|(e, _)| e.edges.clone()).collect();
    let room = plan.max_entities - named.len();
    if !named.is_empty() && room > 0 {
        let walk = tenant.traverse(&TraverseQuery {
            start: named.iter().map(|(e, _)| e.id).collect(),
            max_depth: 1,
            direction: Direction::Both,
            rel_types: Vec::new(),
            limit: named.len() + room * 4,
        })?;
        let known: HashSet<Uuid> = named.iter().map(|(e, _)| e.id).collect();
        let mut neighbours: Vec<(usize, Entity, Why)> = Vec::new();
        for (entity, depth) in walk.nodes {
            if depth == 0 || known.contains(&entity.id) {
                continue;
            }
            // Ranked by the named entity it hangs off (question first).
            if let Some((rank, why)) = walk.edges.iter().filter_map(|e| link_of(e, entity.id, &named)).min_by_key(|(rank, _)| *rank) {
                neighbours.push((rank, entity, why));
            }
        }
        neighbours.sort_by_key(|(rank, _, _)| *rank);
        edges.extend(walk.edges);
        named.extend(neighbours.into_iter().take(room).map(|(_, e, why)| (e, why)));
    }
    let mut unique = HashSet::new();
    edges.retain(|e| unique.insert((e.src, e.dst, e.rel_type.clone())));
    Ok((named, edges))
}

/// Ids of the person and organisation keys (lowercased words joined by
/// single spaces, as the extractor writes them) that runs of up to
/// [`MAX_NAME_WORDS`] words of `text` would be; at most [`MAX_NAME_LOOKUPS`].
fn lowercase_name_ids(text: &str) -> Vec<Uuid> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            if w == "&" {
                return "and".to_string();
            }
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            let w = w.strip_suffix("'s").or_else(|| w.strip_suffix("’s")).unwrap_or(w);
            w.to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let kinds = [percolate_extract::EntityKind::Person, percolate_extract::EntityKind::Organization];
    (1..=MAX_NAME_WORDS)
        .flat_map(|n| words.windows(n).map(|run| run.join(" ")))
        .flat_map(|key| kinds.map(|kind| percolate_rem::ids::entity_id(kind.as_str(), &key)))
        .take(MAX_NAME_LOOKUPS)
        .collect()
}

/// How `edge` links `neighbour` to a named entity: that entity's rank and
/// the reason.
fn link_of(edge: &Edge, neighbour: Uuid, named: &[(Entity, Why)]) -> Option<(usize, Why)> {
    let (of, outgoing) = if edge.dst == neighbour {
        (edge.src, true)
    } else if edge.src == neighbour {
        (edge.dst, false)
    } else {
        return None;
    };
    let rank = named.iter().position(|(e, _)| e.id == of)?;
    Some((rank, Why::Neighbour { of, rel: edge.rel_type.clone(), outgoing }))
}

/// Moments of the window: those referring to a retrieved resource or
/// entity first, then the newest.
fn find_moments(tenant: &Tenant, plan: &ChatPlan, resources: &[(Resource, f32)], entities: &[(Entity, Why)]) -> Result<Vec<(MomentData, Why)>> {
    if plan.max_moments == 0 {
        return Ok(Vec::new());
    }
    let query = FeedQuery {
        start_after: plan.moments_after,
        start_before: plan.moments_before,
        moment_types: Vec::new(),
        tags: Vec::new(),
        page_size: MOMENTS_EXAMINED,
        cursor: None,
    };
    let (mut moments, _) = tenant.list_moments(&query)?;
    // Recorded exchanges would ground answers in earlier answers.
    moments.retain(|m| m.moment_type != super::CHAT_MOMENT_TYPE);
    let retrieved: HashMap<String, Uuid> = resources.iter().map(|(r, _)| r.id).chain(entities.iter().map(|(e, _)| e.id)).map(|id| (id.to_string(), id)).collect();
    let (mut referring, rest): (Vec<_>, Vec<_>) = moments
        .into_iter()
        .map(|m| {
            let refs: Vec<Uuid> = m.resource_refs.iter().chain(&m.entity_refs).filter_map(|r| retrieved.get(r).copied()).collect();
            let why = if refs.is_empty() { Why::Window } else { Why::RefersTo(refs) };
            (m, why)
        })
        .partition(|(_, why)| matches!(why, Why::RefersTo(_)));
    referring.extend(rest);
    referring.truncate(plan.max_moments);
    Ok(referring)
}

/// Keeps what fits in `budget` tokens, strictly in rank order within each
/// kind (a less relevant item never stays while a more relevant one of its
/// kind goes): each kind first within its share, then, kind by kind, what
/// still fits in the whole budget; the first passage that does not fit is
/// cut to the room left. Numbers the items kept.
fn assemble(candidates: Vec<(Source, Why, String)>, budget: usize) -> Context {
    let mut texts: Vec<String> = candidates.iter().map(|(_, _, text)| text.clone()).collect();
    let mut sizes: Vec<usize> = texts.iter().map(|t| estimate_tokens(t)).collect();
    let mut taken = vec![false; candidates.len()];
    let kinds: Vec<usize> = candidates.iter().map(|(source, _, _)| source.kind()).collect();
    let mut total = 0;
    // First pass: each kind in rank order until its share is spent.
    let mut next = [0usize; 3];
    for (kind, share) in SHARES.iter().enumerate() {
        let share = (budget as f32 * share) as usize;
        let mut used = 0;
        for i in (0..candidates.len()).filter(|&i| kinds[i] == kind) {
            if used + sizes[i] > share || total + sizes[i] > budget {
                break;
            }
            taken[i] = true;
            used += sizes[i];
            total += sizes[i];
            next[kind] = i + 1;
        }
    }
    // Second pass: each kind goes on in rank order while the budget lasts.
    for kind in 0..SHARES.len() {
        for i in (next[kind]..candidates.len()).filter(|&i| kinds[i] == kind) {
            if total + sizes[i] <= budget {
                taken[i] = true;
                total += sizes[i];
                continue;
            }
            let room = budget - total;
            if kind == 0 && room >= MIN_TRUNCATED_TOKENS {
                texts[i] = render::cut(&texts[i], (room - 4) * 4);
                sizes[i] = estimate_tokens(&texts[i]);
                taken[i] = true;
                total += sizes[i];
            }
            break;
        }
    }
    let mut context = Context { omitted: taken.iter().filter(|t| !**t).count() as u32, tokens: total, ..Context::default() };
    let kept = candidates.into_iter().zip(texts).zip(sizes).zip(taken).filter(|(_, t)| *t).map(|(((c, text), size), _)| (c, text, size));
    for ((source, why, _), text, tokens) in kept {
        let number = context.items.len() as u32 + 1;
        context.items.push(Item { number, source, why, text, tokens });
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;
    use percolate_rem::model::ResourceData;

    fn passage(n: usize, chars: usize) -> (Source, Why, String) {
        let data = ResourceData { uri: format!("doc://{n}"), content: "x".repeat(chars), ..Default::default() };
        let text = "x".repeat(chars);
        (Source::Resource(Resource { id: Uuid::from_u128(n as u128), data, has_embedding: true }, 0.9), Why::Similar, text)
    }

    fn moment(n: usize, chars: usize) -> (Source, Why, String) {
        let data = MomentData { id: Uuid::from_u128(1000 + n as u128).as_bytes().to_vec(), name: "m".into(), ..Default::default() };
        (Source::Moment(data), Why::Window, "y".repeat(chars))
    }

    #[test]
    fn items_that_do_not_fit_are_left_out_and_counted() {
        // 100 tokens each (396 chars + 4): 3 passages in a 330-token budget,
        // then a moment within its share.
        let candidates = vec![passage(1, 396), passage(2, 396), passage(3, 396), passage(4, 396), moment(1, 96)];
        let context = assemble(candidates, 330);
        let kinds: Vec<usize> = context.items.iter().map(|i| i.source.kind()).collect();
        assert!(context.tokens <= 330, "{}", context.tokens);
        assert_eq!(kinds.first(), Some(&0));
        assert!(kinds.contains(&2), "the moment keeps its share: {kinds:?}");
        assert_eq!(context.items.iter().map(|i| i.number).collect::<Vec<_>>(), (1..=context.items.len() as u32).collect::<Vec<_>>());
        assert_eq!(context.omitted as usize + context.items.len(), 5);
    }

    #[test]
    fn a_long_top_passage_is_cut_rather_than_passed_over() {
        // The top passage (3004 tokens) is over the whole budget: it is cut
        // to the room left, and the smaller, less relevant ones go.
        let candidates = vec![passage(1, 12_000), passage(2, 396), passage(3, 396), moment(1, 96)];
        let context = assemble(candidates, 3000);
        let ids: Vec<Uuid> = context.items.iter().map(|i| i.source.id()).collect();
        assert_eq!(ids, vec![Uuid::from_u128(1), Uuid::from_u128(1001)], "{ids:?}");
        assert!(context.tokens <= 3000 && context.tokens > 2900, "{}", context.tokens);
        assert_eq!(context.omitted, 2);
    }

    #[test]
    fn a_passage_longer_than_the_budget_is_cut_to_it() {
        let context = assemble(vec![passage(1, 40_000)], 1000);
        assert_eq!(context.items.len(), 1);
        assert!(context.tokens <= 1000 && context.tokens > 900, "{}", context.tokens);
        assert_eq!(context.omitted, 0);
    }

    #[test]
    fn lowercase_names_in_a_question_give_the_extractors_keys() {
        let ids = lowercase_name_ids("what does alice martin's team (at acme & co) own?");
        for (kind, key) in [("person", "alice martin"), ("organization", "acme and co"), ("person", "alice")] {
            assert!(ids.contains(&percolate_rem::ids::entity_id(kind, key)), "{kind} {key}");
        }
        assert_eq!(lowercase_name_ids(&"word ".repeat(10_000)).len(), MAX_NAME_LOOKUPS);
    }

    #[test]
    fn repeated_passages_compare_equal_whatever_their_spacing() {
        assert_eq!(comparable("The  cat\nsat. "), comparable("the cat sat."));
    }
}
