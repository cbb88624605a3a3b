/** A graph that cannot be built, evaluated or emitted as asked: the message names the op and what is wrong. */
export class GraphError extends Error {
  override name = "GraphError";
}
