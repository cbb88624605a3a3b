/** Generation: KV-cache decoding on any engine, sampling, model loading for inference. */
export { buildDecodeGraph, pastName, presentName, type DecodeGraph } from "./decode-graph.ts";
export { DEVICES, type Device, createEngine as createEngineFor, isDevice } from "@iopo/graph";
export { DecodeBatch, type FinishReason, type Generation, type GenerateOptions, Generator, type GeneratorInit } from "./generator.ts";
export { type GenerationModel, encodeChat, endOfTurnToken, loadGenerationModel, stopTokensFor } from "./model.ts";
export { type SamplingOptions, argmax, sampleToken, seededRng } from "./sampling.ts";
export { type TextGeneration, type TextPrompt, generateTexts } from "./text.ts";
