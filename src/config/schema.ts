import type { interfaces } from 'inversify';

/**
 * Every setting, declared once. `arg` is the CLI flag, `env` the variable, and the
 * CLI builds its help from `doc`: train.batchSize == --batch-size == FINETUNE_TRAIN_BATCH_SIZE.
 */
export const configSchema = {
  backend: {
    doc: 'TensorFlow.js backend: auto picks tensorflow-gpu, then tensorflow, then wasm, then cpu.',
    format: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
    default: 'auto',
    env: 'FINETUNE_BACKEND',
    arg: 'backend',
  },
  runtime: {
    compiledForward: {
      doc: 'Run the frozen network (extraction, probe, doctor, evaluate, predict, serve) compiled: batch norm folded into the convolutions, fused convolution + bias + activation, padding merged. false runs the LayersModel op by op (for comparison).',
      format: Boolean,
      default: true,
      env: 'FINETUNE_RUNTIME_COMPILED_FORWARD',
      arg: 'compiled-forward',
    },
  },
  data: {
    validationFraction: {
      doc: 'Share of each class held out for validation when the data folder has no val/ split.',
      format: 'fraction-below-one',
      default: 0.2,
      env: 'FINETUNE_DATA_VALIDATION_FRACTION',
      arg: 'validation-fraction',
    },
    minImagesPerClass: {
      doc: 'Smallest number of usable images a class may have.',
      format: 'positive-integer',
      default: 5,
      env: 'FINETUNE_DATA_MIN_IMAGES_PER_CLASS',
      arg: 'min-images-per-class',
    },
  },
  preprocess: {
    imageSize: {
      doc: "Side in pixels images are resized to; 0 means the base model's own input size.",
      format: 'non-negative-integer',
      default: 0,
      env: 'FINETUNE_PREPROCESS_IMAGE_SIZE',
      arg: 'image-size',
    },
    fit: {
      doc: 'How images reach the square input: cover crops the centre, contain pads with black.',
      format: ['cover', 'contain'],
      default: 'cover',
      env: 'FINETUNE_PREPROCESS_FIT',
      arg: 'fit',
    },
    concurrency: {
      doc: 'Images decoded at once.',
      format: 'positive-integer',
      default: 8,
      env: 'FINETUNE_PREPROCESS_CONCURRENCY',
      arg: 'decode-concurrency',
    },
    extractWorkers: {
      doc: "Worker threads running the frozen part's forward pass (each its own tfjs backend and copy of the frozen part, ~200 MB each at 224); 0 = one per core, at most 4; 1 = in the main thread. Only the wasm and cpu backends use them.",
      format: 'non-negative-integer',
      default: 0,
      env: 'FINETUNE_PREPROCESS_EXTRACT_WORKERS',
      arg: 'extract-workers',
    },
    maxInputPixels: {
      doc: 'Largest image (width x height) decoded; bigger ones are refused as possible decompression bombs.',
      format: 'positive-integer',
      default: 100_000_000,
      env: 'FINETUNE_PREPROCESS_MAX_INPUT_PIXELS',
      arg: 'max-input-pixels',
    },
  },
  base: {
    id: {
      doc: 'Base model: mobilenet_v2 (offline, shipped by nsfwjs), mobilenet_v1_<alpha> or mobilenet_v2_<alpha> (TF Hub, downloaded once), or a path to a tfjs LayersModel folder.',
      format: String,
      default: 'mobilenet_v2',
      env: 'FINETUNE_BASE_ID',
      arg: 'base',
    },
    cacheDir: {
      doc: 'Where downloaded base models and cached features are kept.',
      format: String,
      default: 'models/cache',
      env: 'FINETUNE_BASE_CACHE_DIR',
      arg: 'cache-dir',
    },
    featureCacheMaxMB: {
      doc: 'Largest size of the feature cache on disk in MiB; the least recently used entries go first.',
      format: 'positive-integer',
      default: 4096,
      env: 'FINETUNE_BASE_FEATURE_CACHE_MAX_MB',
      arg: 'feature-cache-max-mb',
    },
    hubUrl: {
      doc: 'Root URL that TF Hub model ids are downloaded from.',
      format: 'url',
      default: 'https://tfhub.dev',
      env: 'FINETUNE_BASE_HUB_URL',
      arg: 'hub-url',
    },
    downloadTimeoutSeconds: {
      doc: 'Seconds a base model download may stall before it is abandoned.',
      format: 'positive-integer',
      default: 30,
      env: 'FINETUNE_BASE_DOWNLOAD_TIMEOUT_SECONDS',
      arg: 'download-timeout',
    },
  },
  policy: {
    name: {
      doc: 'What to freeze: auto decides; head trains a head on the last features; intermediate on the cut layer.',
      format: ['auto', 'head', 'intermediate', 'top', 'deep'],
      default: 'auto',
      env: 'FINETUNE_POLICY',
      arg: 'policy',
    },
    largeMinImages: {
      doc: 'A dataset is large (fine-tuning pays off) from this many training images...',
      format: 'positive-integer',
      default: 2000,
      env: 'FINETUNE_POLICY_LARGE_MIN_IMAGES',
      arg: 'large-min-images',
    },
    largeMinImagesPerClass: {
      doc: '...and this many in its smallest class.',
      format: 'positive-integer',
      default: 100,
      env: 'FINETUNE_POLICY_LARGE_MIN_IMAGES_PER_CLASS',
      arg: 'large-min-images-per-class',
    },
    candidateLayers: {
      doc: "Depths whose frozen features are scored to measure similarity; empty means the base's own list (at least five, spread over the network).",
      format: Array,
      default: [] as string[],
      env: 'FINETUNE_POLICY_CANDIDATE_LAYERS',
      arg: 'candidate-layers',
    },
    similarityMetric: {
      doc: 'Transferability score per depth: logme (evidence of a Bayesian linear model, no training) or probe (3-fold linear-probe accuracy).',
      format: ['logme', 'probe'],
      default: 'logme',
      env: 'FINETUNE_POLICY_SIMILARITY_METRIC',
      arg: 'similarity-metric',
    },
    similarityMargin: {
      doc: "The data count as similar when the top depth scores within this share of the score range of the best depth.",
      format: 'fraction-up-to-one',
      default: 0.1,
      env: 'FINETUNE_POLICY_SIMILARITY_MARGIN',
      arg: 'similarity-margin',
    },
    probeImages: {
      doc: 'Most training images (stratified) whose features score the candidate depths.',
      format: 'positive-integer',
      default: 500,
      env: 'FINETUNE_POLICY_PROBE_IMAGES',
      arg: 'probe-images',
    },
    topBlocks: {
      doc: 'Blocks of the base fine-tuned by the top policy (counted from the top).',
      format: 'positive-integer',
      default: 4,
      env: 'FINETUNE_POLICY_TOP_BLOCKS',
      arg: 'top-blocks',
    },
    deepBlocks: {
      doc: 'Most blocks of the base the deep policy fine-tunes (counted from the top): the floor below which nothing unfreezes.',
      format: 'positive-integer',
      default: 8,
      env: 'FINETUNE_POLICY_DEEP_BLOCKS',
      arg: 'deep-blocks',
    },
    cutLayer: {
      doc: "Layer whose output the head reads under the intermediate policy; empty means the base's recommended layer.",
      format: String,
      default: '',
      env: 'FINETUNE_POLICY_CUT_LAYER',
      arg: 'cut-layer',
    },
    pooling: {
      doc: "How the head pools the feature map it reads: average (whole image), grid (each quarter, 2x2; frozen LayersModel features only), auto (grid at an intermediate cut, else average).",
      format: ['auto', 'average', 'grid'],
      default: 'auto',
      env: 'FINETUNE_POLICY_POOLING',
      arg: 'pooling',
    },
    gridMinImagesPerClass: {
      doc: 'Auto pooling uses the 2x2 grid only when the smallest class has at least this many training images (four times the features overfit below).',
      format: 'positive-integer',
      default: 20,
      env: 'FINETUNE_POLICY_GRID_MIN_IMAGES_PER_CLASS',
      arg: 'grid-min-images-per-class',
    },
  },
  train: {
    epochs: {
      doc: 'Most epochs to train; early stopping may end sooner.',
      format: 'positive-integer',
      default: 40,
      env: 'FINETUNE_TRAIN_EPOCHS',
      arg: 'epochs',
    },
    batchSize: {
      doc: 'Examples per training step.',
      format: 'positive-integer',
      default: 32,
      env: 'FINETUNE_TRAIN_BATCH_SIZE',
      arg: 'batch-size',
    },
    learningRate: {
      doc: 'Initial learning rate of the head (which learns on standardized features); it then follows train.schedule.',
      format: 'positive-number',
      default: 0.005,
      env: 'FINETUNE_TRAIN_LEARNING_RATE',
      arg: 'learning-rate',
    },
    decayRate: {
      doc: 'Exponential decay: the learning rate is multiplied by this every epoch.',
      format: 'fraction-up-to-one',
      default: 0.95,
      env: 'FINETUNE_TRAIN_DECAY_RATE',
      arg: 'decay-rate',
    },
    patience: {
      doc: 'Epochs without a lower validation loss before training stops and the best weights are restored.',
      format: 'positive-integer',
      default: 8,
      env: 'FINETUNE_TRAIN_PATIENCE',
      arg: 'patience',
    },
    dropout: {
      doc: 'Dropout rate before each dense layer of the head.',
      format: 'fraction-below-one',
      default: 0.2,
      env: 'FINETUNE_TRAIN_DROPOUT',
      arg: 'dropout',
    },
    hiddenUnits: {
      doc: 'Units of the optional hidden layer of the head: 0 for none, else a power of two.',
      format: 'zero-or-power-of-two',
      default: 0,
      env: 'FINETUNE_TRAIN_HIDDEN_UNITS',
      arg: 'hidden-units',
    },
    initializer: {
      doc: 'Initializer of the head kernels (never plain N(0, 1)): Glorot normal or uniform, truncated normal (std train.initStddev), or orthogonal.',
      format: ['glorotNormal', 'glorotUniform', 'truncatedNormal', 'orthogonal'],
      default: 'glorotNormal',
      env: 'FINETUNE_TRAIN_INITIALIZER',
      arg: 'initializer',
    },
    initStddev: {
      doc: 'Standard deviation of the truncatedNormal initializer; 0 means 1 / sqrt(fan-in), which keeps activations at unit scale.',
      format: 'non-negative-number',
      default: 0,
      env: 'FINETUNE_TRAIN_INIT_STDDEV',
      arg: 'init-stddev',
    },
    optimizer: {
      doc: 'Optimizer of every phase: sgd (with train.momentum), adam or rmsprop.',
      format: ['sgd', 'adam', 'rmsprop'],
      default: 'adam',
      env: 'FINETUNE_TRAIN_OPTIMIZER',
      arg: 'optimizer',
    },
    momentum: {
      doc: 'Momentum of the sgd optimizer (0 = plain gradient descent).',
      format: 'fraction-below-one',
      default: 0.9,
      env: 'FINETUNE_TRAIN_MOMENTUM',
      arg: 'momentum',
    },
    schedule: {
      doc: 'How the learning rate decays over epochs: exponential (x train.decayRate per epoch), step (x train.stepFactor every train.stepSize epochs) or cosine (half a cosine to 0 over the phase).',
      format: ['exponential', 'step', 'cosine'],
      default: 'exponential',
      env: 'FINETUNE_TRAIN_SCHEDULE',
      arg: 'schedule',
    },
    stepSize: {
      doc: 'Step schedule: epochs between two drops of the learning rate.',
      format: 'positive-integer',
      default: 10,
      env: 'FINETUNE_TRAIN_STEP_SIZE',
      arg: 'step-size',
    },
    stepFactor: {
      doc: 'Step schedule: what the learning rate is multiplied by at each drop.',
      format: 'fraction-up-to-one',
      default: 0.5,
      env: 'FINETUNE_TRAIN_STEP_FACTOR',
      arg: 'step-factor',
    },
    warmupEpochs: {
      doc: 'Epochs over which the learning rate rises linearly to its initial value before the schedule starts (any schedule; 0 = none).',
      format: 'non-negative-integer',
      default: 0,
      env: 'FINETUNE_TRAIN_WARMUP_EPOCHS',
      arg: 'warmup-epochs',
    },
    plateauPatience: {
      doc: 'Epochs without a lower validation loss before the learning rate is multiplied by train.plateauFactor (on top of the schedule); 0 turns this off. Keep it below train.patience.',
      format: 'non-negative-integer',
      default: 5,
      env: 'FINETUNE_TRAIN_PLATEAU_PATIENCE',
      arg: 'plateau-patience',
    },
    plateauFactor: {
      doc: 'What the learning rate is multiplied by when validation loss plateaus.',
      format: 'open-fraction',
      default: 0.5,
      env: 'FINETUNE_TRAIN_PLATEAU_FACTOR',
      arg: 'plateau-factor',
    },
    l2: {
      doc: 'L2 weight decay: l2 x the sum of squared kernel weights is added to the loss (biases and batch norm are not decayed); 0 = off.',
      format: 'non-negative-number',
      default: 0,
      env: 'FINETUNE_TRAIN_L2',
      arg: 'l2',
    },
    labelSmoothing: {
      doc: 'Label smoothing: targets become (1 - s) x one-hot + s / numClasses; 0 = off.',
      format: 'fraction-below-one',
      default: 0,
      env: 'FINETUNE_TRAIN_LABEL_SMOOTHING',
      arg: 'label-smoothing',
    },
    classWeights: {
      doc: 'Loss weight per class: none, or balanced (numExamples / (numClasses x examples of the class), for imbalanced data).',
      format: ['none', 'balanced'],
      default: 'none',
      env: 'FINETUNE_TRAIN_CLASS_WEIGHTS',
      arg: 'class-weights',
    },
    clipNorm: {
      doc: 'Clip gradients to this global norm each step; 0 = off (the NaN guard turns it on at 1 after a non-finite step).',
      format: 'non-negative-number',
      default: 0,
      env: 'FINETUNE_TRAIN_CLIP_NORM',
      arg: 'clip-norm',
    },
    maxNonFiniteRecoveries: {
      doc: 'Non-finite steps (NaN/Inf loss or gradient norm) the guard recovers from (last good weights back, rate halved, clipping on) before training stops with an explanation.',
      format: 'non-negative-integer',
      default: 5,
      env: 'FINETUNE_TRAIN_MAX_NON_FINITE_RECOVERIES',
      arg: 'max-non-finite-recoveries',
    },
    fineTuneEpochs: {
      doc: 'Most epochs of the second phase of top/deep policies, when the unfrozen blocks learn with the head.',
      format: 'positive-integer',
      default: 10,
      env: 'FINETUNE_TRAIN_FINE_TUNE_EPOCHS',
      arg: 'fine-tune-epochs',
    },
    fineTuneLearningRate: {
      doc: "Head's initial learning rate in the fine-tuning phase (the blocks get it times baseRateMultiplier).",
      format: 'positive-number',
      default: 0.001,
      env: 'FINETUNE_TRAIN_FINE_TUNE_LEARNING_RATE',
      arg: 'fine-tune-learning-rate',
    },
    baseRateMultiplier: {
      doc: 'Learning rate of fine-tuned base layers relative to the head (pretrained layers learn slower).',
      format: 'fraction-up-to-one',
      default: 0.1,
      env: 'FINETUNE_TRAIN_BASE_RATE_MULTIPLIER',
      arg: 'base-rate-multiplier',
    },
    trainBatchNorm: {
      doc: 'Let batch norm in fine-tuned blocks use batch statistics and update its moving averages (Keras keeps them in inference mode).',
      format: Boolean,
      default: false,
      env: 'FINETUNE_TRAIN_TRAIN_BATCH_NORM',
      arg: 'train-batch-norm',
    },
    seed: {
      doc: 'Seed for the split-independent randomness (initialization, shuffling, dropout): same seed, same model.',
      format: 'non-negative-integer',
      default: 42,
      env: 'FINETUNE_TRAIN_SEED',
      arg: 'seed',
    },
  },
  augment: {
    views: {
      doc: 'Augmented views per training image, besides the image itself (0 = off). Each view is fixed by the image, its number and train.seed, so its features are cached like the originals; memory for training features grows by this factor.',
      format: 'non-negative-integer',
      default: 0,
      env: 'FINETUNE_AUGMENT_VIEWS',
      arg: 'augment-views',
    },
    minCropArea: {
      doc: 'Random resized crop: smallest share of the image area a view keeps (1 = no crop); aspect ratio between 3:4 and 4:3.',
      format: 'fraction-up-to-one',
      default: 0.75,
      env: 'FINETUNE_AUGMENT_MIN_CROP_AREA',
      arg: 'augment-min-crop-area',
    },
    flip: {
      doc: 'Mirror half of the views left to right (turn off when left and right differ, e.g. text or arrows).',
      format: Boolean,
      default: true,
      env: 'FINETUNE_AUGMENT_FLIP',
      arg: 'augment-flip',
    },
    rotationDegrees: {
      doc: 'Largest rotation of a view either way, in degrees.',
      format: 'non-negative-number',
      default: 10,
      env: 'FINETUNE_AUGMENT_ROTATION_DEGREES',
      arg: 'augment-rotation-degrees',
    },
    brightness: {
      doc: 'Brightness jitter: a view is scaled by a factor in [1 - this, 1 + this].',
      format: 'fraction-below-one',
      default: 0.2,
      env: 'FINETUNE_AUGMENT_BRIGHTNESS',
      arg: 'augment-brightness',
    },
    contrast: {
      doc: 'Contrast jitter around mid-grey: a factor in [1 - this, 1 + this].',
      format: 'fraction-below-one',
      default: 0.2,
      env: 'FINETUNE_AUGMENT_CONTRAST',
      arg: 'augment-contrast',
    },
  },
  runs: {
    dir: {
      doc: 'Folder each training run records itself in, as <dir>/<run-id>/ (config, metrics.jsonl, checkpoints, report.html).',
      format: String,
      default: 'models/runs',
      env: 'FINETUNE_RUNS_DIR',
      arg: 'runs-dir',
    },
  },
  export: {
    out: {
      doc: 'Folder exports go to, as <out>/<name>/<version>/.',
      format: String,
      default: 'models/exports',
      env: 'FINETUNE_EXPORT_OUT',
      arg: 'out',
    },
    name: {
      doc: "Name of the exported model; empty means the data folder's name.",
      format: String,
      default: '',
      env: 'FINETUNE_EXPORT_NAME',
      arg: 'name',
    },
    quantize: {
      doc: 'Weight quantization of the export: none keeps float32; float16 halves the weights, uint8 quarters them (affine per tensor). The size and the validation accuracy change are reported.',
      format: ['none', 'float16', 'uint8'],
      default: 'none',
      env: 'FINETUNE_EXPORT_QUANTIZE',
      arg: 'quantize',
    },
    minAccuracy: {
      doc: 'Quality gate: a model whose validation accuracy (after quantization) is below this is not exported.',
      format: 'fraction',
      default: 0,
      env: 'FINETUNE_EXPORT_MIN_ACCURACY',
      arg: 'min-accuracy',
    },
  },
  serve: {
    host: {
      doc: 'Address the model server listens on; 127.0.0.1 keeps it to this machine, 0.0.0.0 opens it to the network.',
      format: String,
      default: '127.0.0.1',
      env: 'FINETUNE_SERVE_HOST',
      arg: 'host',
    },
    port: {
      doc: 'Port of the model server (TF Serving REST uses 8501); 0 picks a free one.',
      format: 'tcp-port',
      default: 8501,
      env: 'FINETUNE_SERVE_PORT',
      arg: 'port',
    },
    modelName: {
      doc: 'Name in the URLs (/v1/models/<name>); empty means the last folder of --model-base-path.',
      format: String,
      default: '',
      env: 'FINETUNE_SERVE_MODEL_NAME',
      arg: 'model-name',
    },
    maxBatchSize: {
      doc: 'Most images in one forward pass; concurrent requests are batched together up to this (1 turns micro-batching off).',
      format: 'positive-integer',
      default: 16,
      env: 'FINETUNE_SERVE_MAX_BATCH_SIZE',
      arg: 'max-batch-size',
    },
    batchTimeoutMs: {
      doc: 'Longest wait in milliseconds for more requests before an incomplete batch runs.',
      format: 'non-negative-integer',
      default: 5,
      env: 'FINETUNE_SERVE_BATCH_TIMEOUT_MS',
      arg: 'batch-timeout-ms',
    },
    maxInstances: {
      doc: 'Most instances (images) in one predict request.',
      format: 'positive-integer',
      default: 64,
      env: 'FINETUNE_SERVE_MAX_INSTANCES',
      arg: 'max-instances',
    },
    bodyLimitBytes: {
      doc: 'Largest request body in bytes (JSON or uploaded image); bigger ones get 413.',
      format: 'positive-integer',
      default: 16 * 1024 * 1024,
      env: 'FINETUNE_SERVE_BODY_LIMIT_BYTES',
      arg: 'body-limit-bytes',
    },
    requestTimeoutMs: {
      doc: 'Milliseconds a client has to send a whole request; slower ones get 408.',
      format: 'positive-integer',
      default: 30_000,
      env: 'FINETUNE_SERVE_REQUEST_TIMEOUT_MS',
      arg: 'request-timeout-ms',
    },
    pollSeconds: {
      doc: 'Seconds between looks at --model-base-path for a new version.',
      format: 'positive-number',
      default: 1,
      env: 'FINETUNE_SERVE_POLL_SECONDS',
      arg: 'poll-seconds',
    },
    maxLoadedVersions: {
      doc: 'Most versions held in memory: the newest, plus older ones loaded on demand when a request pins them.',
      format: 'positive-integer',
      default: 2,
      env: 'FINETUNE_SERVE_MAX_LOADED_VERSIONS',
      arg: 'max-loaded-versions',
    },
    inferenceThread: {
      doc: 'Where forward passes run: worker keeps them off the thread that answers HTTP, so requests are parsed and decoded while a batch computes (wasm and cpu backends; native ones always compute off it).',
      format: ['worker', 'main'],
      default: 'worker',
      env: 'FINETUNE_SERVE_INFERENCE_THREAD',
      arg: 'inference-thread',
    },
    inferenceWorkers: {
      doc: 'Worker threads computing batches side by side, each with its own copy of the served version: 0 = one per core, at most 4. On wasm one image already keeps a core busy, so workers, not bigger batches, use the other cores.',
      format: 'non-negative-integer',
      default: 0,
      env: 'FINETUNE_SERVE_INFERENCE_WORKERS',
      arg: 'inference-workers',
    },
    topK: {
      doc: 'Labels answered by the image upload endpoint (:labels) unless the request asks for top_k.',
      format: 'positive-integer',
      default: 3,
      env: 'FINETUNE_SERVE_TOP_K',
      arg: 'serve-top-k',
    },
  },
};

export type FinetuneConfig = ConfigShape;
/** The resolved configuration, injected where settings are read. */
export const FinetuneConfig: interfaces.ServiceIdentifier<FinetuneConfig> = Symbol.for('finetune.FinetuneConfig');
export type ConfigShape = {
  backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  runtime: { compiledForward: boolean };
  data: { validationFraction: number; minImagesPerClass: number };
  preprocess: { imageSize: number; fit: 'cover' | 'contain'; concurrency: number; extractWorkers: number; maxInputPixels: number };
  base: { id: string; cacheDir: string; featureCacheMaxMB: number; hubUrl: string; downloadTimeoutSeconds: number };
  policy: {
    name: 'auto' | 'head' | 'intermediate' | 'top' | 'deep';
    largeMinImages: number;
    largeMinImagesPerClass: number;
    candidateLayers: string[];
    similarityMetric: 'logme' | 'probe';
    similarityMargin: number;
    probeImages: number;
    topBlocks: number;
    deepBlocks: number;
    cutLayer: string;
    pooling: 'auto' | 'average' | 'grid';
    gridMinImagesPerClass: number;
  };
  train: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    decayRate: number;
    patience: number;
    dropout: number;
    hiddenUnits: number;
    initializer: 'glorotNormal' | 'glorotUniform' | 'truncatedNormal' | 'orthogonal';
    initStddev: number;
    optimizer: 'sgd' | 'adam' | 'rmsprop';
    momentum: number;
    schedule: 'exponential' | 'step' | 'cosine';
    stepSize: number;
    stepFactor: number;
    warmupEpochs: number;
    plateauPatience: number;
    plateauFactor: number;
    l2: number;
    labelSmoothing: number;
    classWeights: 'none' | 'balanced';
    clipNorm: number;
    maxNonFiniteRecoveries: number;
    fineTuneEpochs: number;
    fineTuneLearningRate: number;
    baseRateMultiplier: number;
    trainBatchNorm: boolean;
    seed: number;
  };
  augment: { views: number; minCropArea: number; flip: boolean; rotationDegrees: number; brightness: number; contrast: number };
  runs: { dir: string };
  export: { out: string; name: string; quantize: 'none' | 'float16' | 'uint8'; minAccuracy: number };
  serve: {
    host: string;
    port: number;
    modelName: string;
    maxBatchSize: number;
    batchTimeoutMs: number;
    maxInstances: number;
    bodyLimitBytes: number;
    requestTimeoutMs: number;
    pollSeconds: number;
    maxLoadedVersions: number;
    inferenceThread: 'worker' | 'main';
    inferenceWorkers: number;
    topK: number;
  };
};
