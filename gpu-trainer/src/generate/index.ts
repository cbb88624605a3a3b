/** Generation: KV-cache decoding on any engine, sampling, model loading for inference. */
export { buildDecodeGraph } from "./decode-graph.ts";
export { type Generation, type GenerateOptions, Generator } from "./generator.ts";
export { type GenerationModel, encodeChat, endOfTurnToken, loadGenerationModel, stopTokensFor } from "./model.ts";
export { argmax, sampleToken, seededRng } from "./sampling.ts";
export { generateTexts } from "./text.ts";
