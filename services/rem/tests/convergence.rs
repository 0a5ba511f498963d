//! Property test of the single write path: conflicting mutations made on
//! three nodes, delivered to three replicas each in its own random order and
//! with random redeliveries, leave byte-identical tenant state everywhere.
//! This is what lets replication deliver mutations at least once, in any order.

use percolate_rem::ids::entity_id;
use percolate_rem::model::{EdgeWrite, EntityWrite, MomentData, PropertyWrite, ResourceData};
use percolate_rem::mutation::{AddEdges, ChunkRef, DeleteResources, IdList, PutMoments, PutResources, RemoveEdges, UpsertEntities};
use percolate_rem::stamp::Stamp;
use percolate_rem::{Mutation, Op, StoreConfig, TenantId, TenantStore};
use proptest::prelude::*;
use uuid::Uuid;

const URIS: [&str; 2] = ["doc://x", "doc://y"];
const KEYS: [&str; 3] = ["a", "b", "c"];
const PROPS: [&str; 2] = ["p", "q"];

fn entity(k: usize) -> Uuid {
    entity_id("t", KEYS[k])
}

fn moment_id(m: usize) -> Vec<u8> {
    Uuid::from_u128(m as u128 + 1).as_bytes().to_vec()
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let put_chunks = (0..2usize, prop::collection::vec((0..3u32, any::<bool>(), 0..4u8), 1..3), any::<bool>()).prop_map(|(u, chunks, replace)| {
        let mut seen = std::collections::HashSet::new();
        let resources = chunks
            .into_iter()
            .filter(|(ord, _, _)| seen.insert(*ord))
            .map(|(ord, embed, v)| ResourceData {
                uri: URIS[u].into(),
                chunk_ordinal: ord,
                content: format!("v{v}"),
                embedding: if embed { vec![1.0, f32::from(v)] } else { vec![] },
                tags: vec![format!("t{v}")],
                ..Default::default()
            })
            .collect();
        Op::PutResources(PutResources { resources, replace_uris: replace, embedding_model: String::new() })
    });
    let delete_chunk = (0..2usize, 0..3u32).prop_map(|(u, ord)| Op::DeleteResources(DeleteResources { chunks: vec![ChunkRef { uri: URIS[u].into(), chunk_ordinal: ord }], uris: vec![] }));
    let delete_uri = (0..2usize).prop_map(|u| Op::DeleteResources(DeleteResources { chunks: vec![], uris: vec![URIS[u].into()] }));
    let upsert = (0..3usize, 0..2usize, prop::option::of(0..5u8)).prop_map(|(k, p, v)| {
        let properties = vec![PropertyWrite { name: PROPS[p].into(), value_json: v.map(|v| v.to_string()) }];
        Op::UpsertEntities(UpsertEntities { entities: vec![EntityWrite { entity_type: "t".into(), key: KEYS[k].into(), properties }] })
    });
    let delete_entity = (0..3usize).prop_map(|k| Op::DeleteEntities(IdList { ids: vec![entity(k).as_bytes().to_vec()] }));
    let edge = (0..3usize, 0..3usize, any::<bool>(), 0..3u8).prop_map(|(s, d, add, w)| {
        let e = EdgeWrite { src: entity(s).as_bytes().to_vec(), dst: entity(d).as_bytes().to_vec(), rel_type: "r".into(), properties_json: String::new(), weight: f32::from(w) };
        if add { Op::AddEdges(AddEdges { edges: vec![e] }) } else { Op::RemoveEdges(RemoveEdges { edges: vec![e] }) }
    });
    let put_moment = (0..2usize, 0..3i64).prop_map(|(m, t)| Op::PutMoments(PutMoments { moments: vec![MomentData { id: moment_id(m), start_time: t, name: format!("m{t}"), ..Default::default() }] }));
    let delete_moment = (0..2usize).prop_map(|m| Op::DeleteMoments(IdList { ids: vec![moment_id(m)] }));
    prop_oneof![put_chunks, delete_chunk, delete_uri, upsert, delete_entity, edge, put_moment, delete_moment]
}

/// Mutations made on three nodes (each node's clock strictly increasing,
/// different nodes often on the same clock value, so ties are broken by the
/// node id), and for each of three replicas its own delivery order and
/// which mutations it receives twice.
type History = (Vec<Mutation>, [Vec<usize>; 3], [Vec<bool>; 3]);

fn history() -> impl Strategy<Value = History> {
    prop::collection::vec((op_strategy(), 0..8u64, 0..3usize), 1..16).prop_flat_map(|ops| {
        let n = ops.len();
        let mut last = [0u64; 3];
        let mutations: Vec<Mutation> = ops
            .into_iter()
            .enumerate()
            .map(|(i, (op, clock, node))| {
                let hlc = (clock * 4).max(last[node] + 1);
                last[node] = hlc;
                Mutation { id: Uuid::from_u128(i as u128).as_bytes().to_vec(), stamp: Some(Stamp::new(hlc, ["n1", "n2", "n3"][node])), op: Some(op) }
            })
            .collect();
        let order = || Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        let twice = || prop::collection::vec(any::<bool>(), n);
        (Just(mutations), [order(), order(), order()], [twice(), twice(), twice()])
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_redelivery_give_identical_state((mutations, orders, twice) in history()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = StoreConfig { sync_writes: false, ..StoreConfig::new(dir.path()) };
        let store = TenantStore::open(config).expect("store");
        let reference = store.tenant(&TenantId::parse("reference").expect("id")).expect("tenant");
        for m in &mutations {
            reference.apply_mutation(m).expect("applies");
        }
        let expected = reference.dump().expect("dump");
        for (replica, (order, twice)) in orders.iter().zip(&twice).enumerate() {
            let copy = store.tenant(&TenantId::parse(&format!("replica{replica}")).expect("id")).expect("tenant");
            for &i in order {
                copy.apply_mutation(&mutations[i]).expect("applies");
                if twice[i] {
                    copy.apply_mutation(&mutations[i]).expect("applies again");
                }
            }
            prop_assert_eq!(&copy.dump().expect("dump"), &expected, "replica {}", replica);
            prop_assert_eq!(copy.counters().expect("counters"), reference.counters().expect("counters"));
        }
    }
}
