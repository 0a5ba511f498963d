//! The storage engine's mutations, for the wire (`Sync.StreamChanges`):
//! each op becomes the request message that would make the same change.

use percolate_proto::v1 as pb;
use percolate_rem::ids::resource_id;
use percolate_rem::model::{EdgeWrite, Resource};
use percolate_rem::mutation::ChunkRef;
use percolate_rem::{Mutation, Op};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::convert::{moment_out, resource_out};

fn id_text(bytes: &[u8]) -> String {
    Uuid::from_slice(bytes).map(|u| u.to_string()).unwrap_or_default()
}

fn chunk_id(chunk: &ChunkRef) -> String {
    resource_id(&chunk.uri, chunk.chunk_ordinal).to_string()
}

fn edge_out(e: EdgeWrite) -> pb::Edge {
    let properties = serde_json::from_str::<Map<String, Json>>(&e.properties_json).ok().map(|m| percolate_proto::json::json_to_struct(&m));
    pb::Edge { src: id_text(&e.src), dst: id_text(&e.dst), rel_type: e.rel_type, properties, weight: e.weight }
}

/// A mutation as the public `Mutation` message.
pub fn mutation_out(m: Mutation) -> pb::Mutation {
    let stamp = m.stamp.unwrap_or_default();
    let op = m.op.map(|op| match op {
        Op::PutResources(put) => pb::mutation::Op::PutResources(pb::PutResourcesRequest {
            resources: put
                .resources
                .into_iter()
                .map(|data| {
                    let id = resource_id(&data.uri, data.chunk_ordinal);
                    let has_embedding = !data.embedding.is_empty();
                    resource_out(Resource { id, data, has_embedding })
                })
                .collect(),
            replace_uris: put.replace_uris,
            embedding_model: put.embedding_model,
            ..Default::default()
        }),
        Op::DeleteResources(del) => pb::mutation::Op::DeleteResources(pb::DeleteResourcesRequest { ids: del.chunks.iter().map(chunk_id).collect(), uris: del.uris, ..Default::default() }),
        Op::UpsertEntities(up) => pb::mutation::Op::UpsertEntities(pb::UpsertEntitiesRequest {
            entities: up
                .entities
                .into_iter()
                .map(|e| {
                    let properties: Map<String, Json> =
                        e.properties.into_iter().map(|p| (p.name, p.value_json.and_then(|v| serde_json::from_str(&v).ok()).unwrap_or(Json::Null))).collect();
                    pb::EntityUpsert { r#type: e.entity_type, key: e.key, properties: Some(percolate_proto::json::json_to_struct(&properties)) }
                })
                .collect(),
            ..Default::default()
        }),
        Op::DeleteEntities(ids) => pb::mutation::Op::DeleteEntities(pb::DeleteEntitiesRequest { ids: ids.ids.iter().map(|id| id_text(id)).collect(), ..Default::default() }),
        Op::AddEdges(add) => pb::mutation::Op::AddEdges(pb::AddEdgesRequest { edges: add.edges.into_iter().map(edge_out).collect(), ..Default::default() }),
        Op::RemoveEdges(rm) => pb::mutation::Op::RemoveEdges(pb::RemoveEdgesRequest {
            edges: rm.edges.into_iter().map(|e| pb::EdgeKey { src: id_text(&e.src), dst: id_text(&e.dst), rel_type: e.rel_type }).collect(),
            ..Default::default()
        }),
        Op::PutMoments(put) => pb::mutation::Op::PutMoments(pb::PutMomentsRequest { moments: put.moments.into_iter().map(moment_out).collect(), ..Default::default() }),
        Op::DeleteMoments(ids) => pb::mutation::Op::DeleteMoments(pb::DeleteMomentsRequest { ids: ids.ids.iter().map(|id| id_text(id)).collect(), ..Default::default() }),
        Op::SetEmbeddings(set) => pb::mutation::Op::EmbeddingsAdded(pb::EmbeddingsAdded {
            chunks: set.items.into_iter().map(|i| pb::ChunkEmbedding { resource_id: i.chunk.as_ref().map(chunk_id).unwrap_or_default(), embedding: i.embedding }).collect(),
            embedding_model: set.embedding_model,
        }),
    });
    pb::Mutation { id: m.id, hlc: stamp.hlc, origin_node: stamp.node, op }
}
